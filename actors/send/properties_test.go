package send

import "testing"

// The send path keeps a client's properties as they came — no new string
// per message — unless Java would read them differently (a repeated name,
// an item it drops) or they carry a CLUSTER of their own.
func TestStoredPropertiesAllocateNothingInTheCommonCase(t *testing.T) {
	props := "TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x017F0000010000000000000000\x02WAIT\x01true\x02"
	var got string
	if n := testing.AllocsPerRun(1000, func() { got = storedProperties(props) }); n != 0 {
		t.Fatalf("storedProperties allocates %v times per message", n)
	}
	if got != props {
		t.Fatalf("canonical properties changed: %q", got)
	}
	for in, want := range map[string]string{
		"TAGS\x01a\x02TAGS\x01b\x02":         "TAGS\x01b\x02",
		"TAGS\x01a\x02CLUSTER\x01forged\x02": "TAGS\x01a\x02",
		"TAGS\x01\x02KEYS\x01k\x02":          "KEYS\x01k\x02",
	} {
		if got := storedProperties(in); got != want {
			t.Errorf("storedProperties(%q) = %q, want %q", in, got, want)
		}
	}
}
