package remoting

import "testing"

// TestJSONHeaderNonStringValuesAllocs: a header whose extFields values are
// numbers, booleans or null (as JavaScript clients write them) decodes
// with no more allocations than the same header with every value quoted,
// and neither leaves the scanner. Allocation counts, not timings, so the
// check is exact on any machine.
func TestJSONHeaderNonStringValuesAllocs(t *testing.T) {
	js := `{"code":310,"language":"JAVA","opaque":3,"flag":0,"version":121,"extFields":{"a":"sluice-js-producer","b":"TestTopic","c":"TBW102","d":4,"e":1,"f":0,"g":1767225600123,"h":0,"i":"TAGS\u0001TagA\u0002","j":0,"k":false,"l":null}}`
	quoted := `{"code":310,"language":"JAVA","opaque":3,"flag":0,"version":121,"extFields":{"a":"sluice-js-producer","b":"TestTopic","c":"TBW102","d":"4","e":"1","f":"0","g":"1767225600123","h":"0","i":"TAGS\u0001TagA\u0002","j":"0","k":"false"}}`
	allocs := func(hdr string) float64 {
		b := []byte(hdr)
		if !scanJSONHeader(b, new(Command)) {
			t.Fatalf("scanner declined %s", hdr)
		}
		var err error
		n := testing.AllocsPerRun(200, func() {
			var c Command
			err = decodeJSONHeader(b, &c)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if a, b := allocs(js), allocs(quoted); a > b {
		t.Fatalf("%v allocations with unquoted values, %v with strings only", a, b)
	}
}
