package metadata

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-mq/sluice/commitlog"
)

// The HEART_BEAT body captured from rocketmq-client-go,
// with the elided retry subVersion filled in.
const goHeartbeat = `{"clientID":"192.0.2.2@15839","producerDataSet":[],
 "consumerDataSet":[{"groupName":"cg","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING",
   "consumeFromWhere":"CONSUME_FROM_LAST_OFFSET",
   "subscriptionDataSet":[{"classFilterMode":false,"topic":"TestTopic","subString":"*","tagsSet":[],"codeSet":[],
      "subVersion":1795609411639888968,"expressionType":"TAG"},
     {"classFilterMode":false,"topic":"%RETRY%cg","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1795609411639888969,"expressionType":"TAG"}],
   "unitMode":false}]}`

func TestDecodeHeartbeatGoExample(t *testing.T) {
	hb, err := DecodeHeartbeat([]byte(goHeartbeat))
	if err != nil {
		t.Fatal(err)
	}
	want := HeartbeatData{
		ClientID:        "192.0.2.2@15839",
		ProducerDataSet: []ProducerData{},
		ConsumerDataSet: []ConsumerData{{
			GroupName: "cg", ConsumeType: ConsumePassively, MessageModel: MessageModelClustering,
			ConsumeFromWhere: ConsumeFromLastOffset,
			SubscriptionDataSet: []SubscriptionData{
				{Topic: "TestTopic", SubString: "*", TagsSet: []string{}, CodeSet: CodeSet{}, SubVersion: 1795609411639888968, ExpressionType: "TAG"},
				{Topic: "%RETRY%cg", SubString: "*", TagsSet: []string{}, CodeSet: CodeSet{}, SubVersion: 1795609411639888969, ExpressionType: "TAG"},
			},
		}},
	}
	if !reflect.DeepEqual(hb, want) {
		t.Fatalf("got  %+v\nwant %+v", hb, want)
	}
	// Above 2^53, neighbours stay distinct: nothing went through float64.
	if hb.ConsumerDataSet[0].SubscriptionDataSet[1].SubVersion-hb.ConsumerDataSet[0].SubscriptionDataSet[0].SubVersion != 1 {
		t.Fatal("subVersion lost precision")
	}
}

func TestDecodeHeartbeatCodesAndProducers(t *testing.T) {
	body := `{"clientID":"10.0.0.1@1@unit","producerDataSet":[{"groupName":"pg"},{"groupName":"CLIENT_INNER_PRODUCER"}],
	  "consumerDataSet":[
	    {"groupName":"go","subscriptionDataSet":[{"topic":"T","subString":"TagA || TagB","tagsSet":["TagA","TagB"],"codeSet":["2598919","2598920"],"subVersion":9223372036854775807,"expressionType":"TAG"}]},
	    {"groupName":"java","subscriptionDataSet":[{"topic":"T","subString":"TagA||TagB","tagsSet":["TagA","TagB"],"codeSet":[2598919, -5],"subVersion":1,"expressionType":"TAG"}]},
	    {"groupName":"nulls","subscriptionDataSet":[{"topic":"T","subString":"*","tagsSet":null,"codeSet":null,"subVersion":0}]}
	  ]}`
	hb, err := DecodeHeartbeat([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := hb.ProducerDataSet; !reflect.DeepEqual(got, []ProducerData{{"pg"}, {"CLIENT_INNER_PRODUCER"}}) {
		t.Fatalf("producers %v", got)
	}
	goSub := hb.ConsumerDataSet[0].SubscriptionDataSet[0]
	if !reflect.DeepEqual(goSub.CodeSet, CodeSet{2598919, 2598920}) || goSub.SubVersion != 9223372036854775807 {
		t.Fatalf("go sub %+v", goSub)
	}
	if got := hb.ConsumerDataSet[1].SubscriptionDataSet[0].CodeSet; !reflect.DeepEqual(got, CodeSet{2598919, -5}) {
		t.Fatalf("java codes %v", got)
	}
	if s := hb.ConsumerDataSet[2].SubscriptionDataSet[0]; s.CodeSet != nil || s.TagsSet != nil {
		t.Fatalf("nulls %+v", s)
	}
	// Codes encode as numbers, like Java.
	out, _ := json.Marshal(goSub)
	if !strings.Contains(string(out), `"codeSet":[2598919,2598920]`) {
		t.Fatalf("encoded %s", out)
	}

	for _, bad := range []string{``, `nope`, `{"consumerDataSet":[{"subscriptionDataSet":[{"codeSet":["x"]}]}]}`,
		`{"consumerDataSet":[{"subscriptionDataSet":[{"codeSet":["99999999999"]}]}]}`,
		`{"consumerDataSet":[{"subscriptionDataSet":[{"subVersion":1.5}]}]}`} {
		if _, err := DecodeHeartbeat([]byte(bad)); err == nil {
			t.Errorf("DecodeHeartbeat(%q) accepted", bad)
		}
	}
}

// The filter hashes tags with the store's commitlog.TagsHashCode; these are
// the values it must give: Java's String.hashCode.
func TestTagsHashCode(t *testing.T) {
	// Java's String.hashCode: s[0]*31^(n-1) + … + s[n-1] in int32, over
	// UTF-16 code units.
	cases := map[string]int64{
		"":                   0,
		"a":                  97,
		"TagA":               2598919, // 84*31³ + 97*31² + 103*31 + 65
		"TagB":               2598920,
		"Hello":              69609650,
		"hello world":        1794106052,
		"polygenelubricants": -2147483648, // overflows to Integer.MIN_VALUE
		"é":                  233,         // one UTF-16 unit; Go's client would say 195*31+169 = 6214
		"😀":                  55357*31 + 56832,
	}
	for s, want := range cases {
		if got := commitlog.TagsHashCode(s); got != want {
			t.Errorf("commitlog.TagsHashCode(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestBuildSubscriptionData(t *testing.T) {
	cases := []struct {
		sub, typ  string
		wantSub   string
		wantTags  []string
		wantCodes CodeSet
		wantErr   bool
	}{
		{sub: "*", wantSub: "*"},
		{sub: "", typ: "TAG", wantSub: "*"},
		{sub: "TagA", wantSub: "TagA", wantTags: []string{"TagA"}, wantCodes: CodeSet{2598919}},
		{sub: "TagA || TagB", wantSub: "TagA || TagB", wantTags: []string{"TagA", "TagB"}, wantCodes: CodeSet{2598919, 2598920}},
		{sub: " TagA ||\tTagA|| ||TagB||", wantSub: " TagA ||\tTagA|| ||TagB||", wantTags: []string{"TagA", "TagB"}, wantCodes: CodeSet{2598919, 2598920}},
		{sub: "||", wantErr: true},
		{sub: "a > 1", typ: "SQL92", wantSub: "a > 1"},
		{sub: "", typ: "SQL92", wantErr: true},
	}
	for _, tc := range cases {
		sd, err := BuildSubscriptionData("T", tc.sub, tc.typ)
		if tc.wantErr {
			if !errors.Is(err, ErrSubscriptionParse) {
				t.Errorf("%q/%q: err %v, want parse failure", tc.sub, tc.typ, err)
			}
			continue
		}
		if err != nil || sd.SubString != tc.wantSub || !reflect.DeepEqual(sd.TagsSet, tc.wantTags) || !reflect.DeepEqual(sd.CodeSet, tc.wantCodes) {
			t.Errorf("%q/%q: got %+v %v", tc.sub, tc.typ, sd, err)
		}
	}
}

func TestSubscriptionFilter(t *testing.T) {
	all, _ := BuildSubscriptionData("T", "*", "")
	tagged, _ := BuildSubscriptionData("T", "TagA||é", "TAG")
	// What rocketmq-client-go sends for "é": its byte hash only.
	goSent := SubscriptionData{Topic: "T", SubString: "é", TagsSet: []string{"é"}, CodeSet: CodeSet{6214}, ExpressionType: "TAG"}
	sql := SubscriptionData{Topic: "T", SubString: "a > 1", ExpressionType: "SQL92"}
	class := SubscriptionData{Topic: "T", SubString: "TagA", ClassFilterMode: true, CodeSet: CodeSet{2598919}}

	cases := []struct {
		name string
		sd   SubscriptionData
		code int64
		want bool
	}{
		{"* passes", all, 12345, true},
		{"tag in set", tagged, commitlog.TagsHashCode("TagA"), true},
		{"tag not in set", tagged, commitlog.TagsHashCode("TagB"), false},
		{"untagged message (code 0)", tagged, 0, false},
		{"non-ASCII tag from Go matches the stored Java hash", goSent, commitlog.TagsHashCode("é"), true},
		{"and Go's own code too", goSent, 6214, true},
		{"int truncation like Java's intValue", tagged, commitlog.TagsHashCode("TagA") + 1<<32, true},
		{"SQL92 passes the queue filter", sql, 1, true},
		{"class filter mode passes", class, 1, true},
	}
	for _, tc := range cases {
		if got := tc.sd.Filter()(tc.code); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
}

func TestEncodeConsumerIDList(t *testing.T) {
	if got := string(EncodeConsumerIDList(nil)); got != `{"consumerIdList":[]}` {
		t.Errorf("empty: %s", got)
	}
	if got := string(EncodeConsumerIDList([]string{"a@1", "b@2"})); got != `{"consumerIdList":["a@1","b@2"]}` {
		t.Errorf("two: %s", got)
	}
}
