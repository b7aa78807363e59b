package remoting

import "testing"

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
