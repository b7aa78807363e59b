package remoting

import (
	"maps"
	"strconv"
	"testing"
)

// decodedExt must keep a map's rules whatever its filter says: keys that
// share a filter bit are still different keys, a repeat keeps the last
// value and a null removes the key.
func TestDecodedExtMapRules(t *testing.T) {
	// Find keys that share a bit, so the slow path runs on a miss.
	byBit := map[uint64][]string{}
	var twins []string
	for i := 0; len(twins) == 0; i++ {
		k := "k" + strconv.Itoa(i)
		b := keyBit(k)
		byBit[b] = append(byBit[b], k)
		if len(byBit[b]) == 3 {
			twins = byBit[b]
		}
	}
	d := newDecodedExt(4)
	want := map[string]string{}
	put := func(k, v string, null bool) {
		d.put(k, v, null)
		if null {
			delete(want, k)
		} else {
			want[k] = v
		}
	}
	put(twins[0], "a", false)
	put(twins[1], "b", false)
	put(twins[0], "c", false) // repeat: last value wins
	put(twins[2], "", true)   // null of a key never seen: absent
	put(twins[1], "", true)   // null of a key seen: removed
	put(twins[2], "d", false)
	put("other", "e", false)
	var c Command
	d.set(&c)
	if got := c.ExtMap(); !maps.Equal(got, want) || c.ExtLen() != len(want) {
		t.Fatalf("fields %v, want %v", c.Fields, want)
	}
	if _, ok := c.LookupExt(twins[1]); ok {
		t.Fatalf("%s was removed by its null", twins[1])
	}
}

// decodeAllocBudget pins what decoding a send frame and its typed header
// allocates: the Command, one string the header's text is cut from, and
// the Fields slice. It was six while the header was a map (the map's
// table and groups). Lower it when you remove one.
const decodeAllocBudget = 3

func TestDecodeSendRequestAllocations(t *testing.T) {
	for code, ext := range map[RequestCode]map[string]string{SendMessage: sendMessageExt(), SendMessageV2: sendMessageExtV2()} {
		for _, st := range serializations {
			c := NewRequest(code, ext, make([]byte, 1024))
			c.Serialize = st
			frame, err := Encode(c)
			if err != nil {
				t.Fatal(err)
			}
			var h SendMessageRequestHeader
			n := testing.AllocsPerRun(200, func() {
				cmd, err := Decode(frame[4:])
				if err == nil {
					h, err = DecodeSendMessageRequestHeader(cmd)
				}
				if err != nil {
					t.Fatal(err)
				}
			})
			if h.Topic != "TestTopic" || h.QueueID != 1 || h.BornTimestamp != 1767225600123 {
				t.Fatalf("%s %s decoded %+v", code, st, h)
			}
			if n > decodeAllocBudget {
				t.Errorf("%s %s: %.1f allocations per decode, budget %d", code, st, n, decodeAllocBudget)
			}
		}
	}
}
