package remoting

import (
	"strings"
	"testing"
)

func TestQuoteBareKeys(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"offsetTable":{"T@g":{0:250,1:248}}}`, `{"offsetTable":{"T@g":{"0":250,"1":248}}}`},
		{"{\n\t\"t\":{\n\t\t0:250,\n\t\t12 : 3,\n\t\t-1:4\n\t}\n}", "{\n\t\"t\":{\n\t\t\"0\":250,\n\t\t\"12\" : 3,\n\t\t\"-1\":4\n\t}\n}"},
		{`{"brokerAddrs":{0:"127.0.0.1:10911"}}`, `{"brokerAddrs":{"0":"127.0.0.1:10911"}}`},
		{`{"x":{0:"a:b,{c}"}, "y":[{-1:2}]}`, `{"x":{"0":"a:b,{c}"}, "y":[{"-1":2}]}`},
		{`{ 0 : "a" }`, `{ "0" : "a" }`},
		{`{"a":[0,1,{2:3}],"b":"{0:1, 2:3}"}`, `{"a":[0,1,{"2":3}],"b":"{0:1, 2:3}"}`},
		{`{"a":"x\"{0:1"}`, `{"a":"x\"{0:1"}`},
		{`{"0":1,"a":-5}`, `{"0":1,"a":-5}`},
		{`[1,2,3]`, `[1,2,3]`},
		{``, ``},
	}
	for _, tc := range cases {
		if got := string(QuoteBareKeys([]byte(tc.in))); got != tc.want {
			t.Errorf("QuoteBareKeys(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestUnmarshalLenient(t *testing.T) {
	var route struct {
		BrokerDatas []struct {
			BrokerAddrs map[int64]string `json:"brokerAddrs"`
		} `json:"brokerDatas"`
	}
	body := `{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.5:10911",1:"10.0.0.6:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"filterServerTable":{},"queueDatas":[]}`
	if err := UnmarshalLenient([]byte(body), &route); err != nil {
		t.Fatal(err)
	}
	if got := route.BrokerDatas[0].BrokerAddrs; got[0] != "10.0.0.5:10911" || got[1] != "10.0.0.6:10911" {
		t.Fatalf("addrs %v", got)
	}
	if err := UnmarshalLenient([]byte(`{"a":`), &route); err == nil {
		t.Fatal("truncated JSON decoded")
	}
}

// TestJavaDecimalString checks BigDecimal#toString on the examples of its
// Javadoc ([unscaled value, scale] → text) and on the boundary between
// plain and scientific notation (adjusted exponent -6).
func TestJavaDecimalString(t *testing.T) {
	cases := []struct {
		coeff string
		neg   bool
		scale int32
		want  string
	}{
		{"123", false, 0, "123"},
		{"123", true, 0, "-123"},
		{"123", false, -1, "1.23E+3"},
		{"123", false, -3, "1.23E+5"},
		{"123", false, 1, "12.3"},
		{"123", false, 5, "0.00123"},
		{"123", false, 10, "1.23E-8"},
		{"123", true, 12, "-1.23E-10"},
		{"1", false, 6, "0.000001"},
		{"1", false, 7, "1E-7"},
		{"10", false, 7, "0.0000010"},
		{"0", true, 1, "0.0"},
		{"0", false, -5, "0E+5"},
		{"0", false, 11, "0E-11"},
		{"5", false, 2, "0.05"},
	}
	for _, tc := range cases {
		d := javaDecimal{neg: tc.neg, coeff: []byte(tc.coeff), scale: tc.scale}
		if got := d.String(); got != tc.want {
			t.Errorf("[%s%s, %d]: %q, want %q", map[bool]string{true: "-"}[tc.neg], tc.coeff, tc.scale, got, tc.want)
		}
	}
}

func TestParseJSONNumber(t *testing.T) {
	cases := []struct {
		lit     string
		coeff   string
		scale   int32
		integer bool
		err     string // part of the error, "" for none
	}{
		{lit: "0", coeff: "0", integer: true},
		{lit: "-12", coeff: "12", integer: true},
		{lit: "0.0012", coeff: "12", scale: 4},
		{lit: "1.50e-1", coeff: "150", scale: 3},
		{lit: "1E+2147483647", coeff: "1", scale: -2147483647},
		{lit: "1e-2147483648", err: "scale out of range"},
		{lit: "1.5e-2147483647", err: "scale out of range"},
		{lit: "1e-0000000000002147483648", err: "scale out of range"},
		{lit: "1e21474836470", err: "exponent overflow"},
		{lit: "1e2147483648", err: "exponent overflow"},
		{lit: "", err: "not a JSON number"},
		{lit: "-", err: "not a JSON number"},
		{lit: "00", err: "not a JSON number"},
		{lit: "1.", err: "not a JSON number"},
		{lit: "1e", err: "not a JSON number"},
		{lit: "1e+", err: "not a JSON number"},
		{lit: "1x", err: "not a JSON number"},
		{lit: strings.Repeat("1", 65536), err: "at most 65535"},
	}
	for _, tc := range cases {
		d, integer, err := parseJSONNumber([]byte(tc.lit))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%.40q: error %v, want one saying %q", tc.lit, err, tc.err)
			}
			continue
		}
		if err != nil || string(d.coeff) != tc.coeff || d.scale != tc.scale || integer != tc.integer {
			t.Errorf("%q: coeff %s scale %d integer %v err %v, want %s %d %v", tc.lit, d.coeff, d.scale, integer, err, tc.coeff, tc.scale, tc.integer)
		}
	}
}

// TestFastjsonIntAndText checks the value readers on their own: what they
// report for a value that leaves a field alone, and that they refuse
// composites.
func TestFastjsonIntAndText(t *testing.T) {
	ints := []struct {
		raw string
		n   int32
		ok  bool
	}{
		{`null`, 0, false}, {`""`, 0, false}, {`"null"`, 0, false}, {`"NULL"`, 0, false},
		{`true`, 1, true}, {`false`, 0, true}, {`7`, 7, true}, {`"7"`, 7, true},
		{`-2147483648`, -2147483648, true}, {`-7.99`, -7, true}, {`7e-1`, 0, true},
	}
	for _, tc := range ints {
		n, ok, err := fastjsonInt([]byte(tc.raw))
		if err != nil || n != tc.n || ok != tc.ok {
			t.Errorf("fastjsonInt(%s) = %d, %v, %v; want %d, %v", tc.raw, n, ok, err, tc.n, tc.ok)
		}
	}
	texts := []struct {
		raw, s string
		ok     bool
	}{
		{`null`, "", false}, {`""`, "", true}, {`"null"`, "null", true}, {`true`, "true", true},
		{`-0`, "-0", true}, {`-0e0`, "0", true}, {`2.50`, "2.50", true},
	}
	for _, tc := range texts {
		s, ok, err := fastjsonText([]byte(tc.raw))
		if err != nil || s != tc.s || ok != tc.ok {
			t.Errorf("fastjsonText(%s) = %q, %v, %v; want %q, %v", tc.raw, s, ok, err, tc.s, tc.ok)
		}
	}
	for _, raw := range []string{`{}`, `[]`, `{"a":"b"}`, `[""]`} {
		if _, _, err := fastjsonInt([]byte(raw)); err != errCompositeValue {
			t.Errorf("fastjsonInt(%s): %v, want errCompositeValue", raw, err)
		}
		if _, _, err := fastjsonText([]byte(raw)); err != errCompositeValue {
			t.Errorf("fastjsonText(%s): %v, want errCompositeValue", raw, err)
		}
	}
}
