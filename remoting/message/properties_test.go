package message

import (
	"reflect"
	"testing"
)

// javaParse is MessageDecoder#string2messageProperties, transcribed: the
// reference the codec is checked against.
func javaParse(props string) map[string]string {
	m := map[string]string{}
	index := 0
	for index < len(props) {
		newIndex := index
		for newIndex < len(props) && props[newIndex] != PropertySeparator {
			newIndex++
		}
		if newIndex-index >= 3 {
			kv := index
			for kv < len(props) && props[kv] != NameValueSeparator {
				kv++
			}
			if kv > index && kv < newIndex-1 {
				m[props[index:kv]] = props[kv+1 : newIndex]
			}
		}
		index = newIndex + 1
	}
	return m
}

var cases = []string{
	"",
	"\x02",
	"TAGS\x01a\x02",
	"TAGS\x01a",
	"TAGS\x01a\x02TAGS\x01b\x02",
	"TAGS\x01a\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01ABC\x02",
	"TAGS\x01\x02KEYS\x01k\x02",
	"\x01v\x02TAGS\x01t\x02",
	"TAGS\x01a\x01b\x02",
	"\x02\x02TAGS\x01x\x02\x02",
	"TAG\x01short\x02TAGS\x01long\x02",
	"TAGSX\x01no\x02",
	"x\x02y\x02TAGS\x01z",
}

func TestLookupMatchesJava(t *testing.T) {
	names := []string{PropertyTags, PropertyKeys, PropertyUniqClientMessageIDKeyIdx, "TAG", "TAGSX", "x", ""}
	for _, props := range cases {
		want := javaParse(props)
		for _, name := range names {
			wv, wok := want[name]
			if v, ok := Lookup(props, name); v != wv || ok != wok {
				t.Errorf("Lookup(%q, %q) = %q, %v; Java reads %q, %v", props, name, v, ok, wv, wok)
			}
			if v, ok := Lookup([]byte(props), name); string(v) != wv || ok != wok {
				t.Errorf("Lookup(bytes %q, %q) = %q, %v; Java reads %q, %v", props, name, v, ok, wv, wok)
			}
		}
	}
}

func TestNormalizeReadsAsJava(t *testing.T) {
	for _, props := range cases {
		n := Normalize(props)
		if got, want := javaParse(n), javaParse(props); !reflect.DeepEqual(got, want) {
			t.Errorf("Normalize(%q) = %q parses to %v; Java parses the original to %v", props, n, got, want)
		}
		if !Canonical(n) {
			t.Errorf("Normalize(%q) = %q is not canonical", props, n)
		}
		// Every item of the result is one Java keeps, and each name once.
		count := 0
		Each(n, func(string, string) { count++ })
		if count != len(javaParse(props)) {
			t.Errorf("Normalize(%q) = %q has %d items, want %d", props, n, count, len(javaParse(props)))
		}
	}
	if props := "TAGS\x01a\x02KEYS\x01k\x02"; Normalize(props) != props {
		t.Errorf("a canonical string must come back unchanged")
	}
	if got := Normalize("TAGS\x01a\x02KEYS\x01k\x02TAGS\x01b\x02"); got != "KEYS\x01k\x02TAGS\x01b\x02" {
		t.Errorf("repeated TAGS: got %q, want the last one kept in its place", got)
	}
}

func TestSetAndDelete(t *testing.T) {
	p := Set("TAGS\x01a\x02TAGS\x01b\x02KEYS\x01k\x02", PropertyTags, "c")
	if p != "KEYS\x01k\x02TAGS\x01c\x02" {
		t.Fatalf("Set = %q", p)
	}
	if got := Delete(p, PropertyKeys); got != "TAGS\x01c\x02" {
		t.Fatalf("Delete = %q", got)
	}
	if got := Delete(p, "NOPE"); got != p {
		t.Fatalf("Delete of an absent name changed %q to %q", p, got)
	}
	if got := string(Append(nil, "A", "1")); got != "A\x011\x02" {
		t.Fatalf("Append = %q", got)
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	s := "TAGS\x01a\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01ABC\x02WAIT\x01true\x02"
	b := []byte(s)
	var sink int
	if n := testing.AllocsPerRun(100, func() {
		v, _ := Lookup(s, PropertyUniqClientMessageIDKeyIdx)
		w, _ := Lookup(b, PropertyTags)
		sink += len(v) + len(w)
		if !Canonical(s) {
			sink++
		}
	}); n != 0 {
		t.Fatalf("Lookup/Canonical allocate %v times per call", n)
	}
	_ = sink
}
