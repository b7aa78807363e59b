package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-mq/sluice/commitlog"
)

// Consumer kinds and models as HEART_BEAT spells them.
const (
	ConsumeActively  = "CONSUME_ACTIVELY"  // pull consumer
	ConsumePassively = "CONSUME_PASSIVELY" // push consumer

	MessageModelClustering   = "CLUSTERING"
	MessageModelBroadcasting = "BROADCASTING"

	ConsumeFromLastOffset  = "CONSUME_FROM_LAST_OFFSET"
	ConsumeFromFirstOffset = "CONSUME_FROM_FIRST_OFFSET"
	ConsumeFromTimestamp   = "CONSUME_FROM_TIMESTAMP"

	ExpressionTypeTag   = "TAG"
	ExpressionTypeSQL92 = "SQL92"

	// SubAll is the "every tag" expression.
	SubAll = "*"
)

// HeartbeatData is the HEART_BEAT (34) body.
type HeartbeatData struct {
	ClientID        string         `json:"clientID"`
	ProducerDataSet []ProducerData `json:"producerDataSet"`
	ConsumerDataSet []ConsumerData `json:"consumerDataSet"`
}

// ProducerData is one producer group of a heartbeat.
type ProducerData struct {
	GroupName string `json:"groupName"`
}

// ConsumerData is one consumer group of a heartbeat.
type ConsumerData struct {
	GroupName           string             `json:"groupName"`
	ConsumeType         string             `json:"consumeType"`
	MessageModel        string             `json:"messageModel"`
	ConsumeFromWhere    string             `json:"consumeFromWhere"`
	SubscriptionDataSet []SubscriptionData `json:"subscriptionDataSet"`
	UnitMode            bool               `json:"unitMode"`
}

// SubscriptionData is one subscription (Java's SubscriptionData).
//
// SubVersion: rocketmq-client-go sends time.Now().UnixNano(), beyond 2^53;
// encoding/json decodes a JSON integer into an int64 field exactly (it never
// goes through float64), so it is kept as sent.
type SubscriptionData struct {
	ClassFilterMode bool     `json:"classFilterMode"`
	Topic           string   `json:"topic"`
	SubString       string   `json:"subString"`
	TagsSet         []string `json:"tagsSet"`
	CodeSet         CodeSet  `json:"codeSet"`
	SubVersion      int64    `json:"subVersion"`
	ExpressionType  string   `json:"expressionType"`
}

// CodeSet is a subscription's tag hash codes (Java Set<Integer>).
// rocketmq-client-go sends them as JSON strings ("2598919"), Java clients
// as numbers; both decode. It encodes as numbers, like Java.
type CodeSet []int32

// UnmarshalJSON accepts null, numbers and numeric strings.
func (c *CodeSet) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		*c = nil
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("codeSet: %w", err)
	}
	out := make(CodeSet, 0, len(raw))
	for _, r := range raw {
		s := string(bytes.TrimSpace(r))
		if len(s) >= 2 && s[0] == '"' {
			if err := json.Unmarshal(r, &s); err != nil {
				return fmt.Errorf("codeSet: %w", err)
			}
		}
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return fmt.Errorf("codeSet: element %s: %w", s, err)
		}
		out = append(out, int32(v))
	}
	*c = out
	return nil
}

// DecodeHeartbeat parses a HEART_BEAT body. A body that is empty or not
// JSON is an error (Java's decode throws and the request fails with
// SYSTEM_ERROR).
func DecodeHeartbeat(body []byte) (HeartbeatData, error) {
	var hb HeartbeatData
	if len(bytes.TrimSpace(body)) == 0 {
		return hb, errors.New("decode heartbeat: empty body")
	}
	if err := json.Unmarshal(body, &hb); err != nil {
		return hb, fmt.Errorf("decode heartbeat: %w", err)
	}
	return hb, nil
}

// ErrSubscriptionParse is wrapped by BuildSubscriptionData's failures
// (SUBSCRIPTION_PARSE_FAILED, 23).
var ErrSubscriptionParse = errors.New("subscription parse failed")

// BuildSubscriptionData is FilterAPI#buildSubscriptionData for the pull
// path with the SUBSCRIPTION bit: for TAG (or an empty type) "", "*" mean
// every tag; otherwise the expression is split on "||", each part trimmed
// (Java's trim: characters ≤ ' '), empty parts skipped, and each tag's
// hash code added. Other expression types keep the expression as is and
// must not be empty.
func BuildSubscriptionData(topic, subString, expressionType string) (SubscriptionData, error) {
	sd := SubscriptionData{Topic: topic, SubString: subString, ExpressionType: expressionType}
	if expressionType != "" && expressionType != ExpressionTypeTag {
		if subString == "" {
			return sd, fmt.Errorf("%w: expression can't be null! %s", ErrSubscriptionParse, expressionType)
		}
		return sd, nil
	}
	sd.ExpressionType = ExpressionTypeTag
	if subString == "" || subString == SubAll {
		sd.SubString = SubAll
		return sd, nil
	}
	parts := strings.Split(subString, "||")
	// Java's String.split drops trailing empty strings; an expression made
	// only of separators leaves nothing and is an error there.
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if len(parts) == 0 {
		return sd, fmt.Errorf("%w: subString split error: %q", ErrSubscriptionParse, subString)
	}
	for _, p := range parts {
		tag := strings.TrimFunc(p, func(r rune) bool { return r <= ' ' })
		if tag == "" {
			continue
		}
		sd.addTag(tag)
	}
	return sd, nil
}

func (sd *SubscriptionData) addTag(tag string) {
	for _, t := range sd.TagsSet {
		if t == tag {
			return
		}
	}
	sd.TagsSet = append(sd.TagsSet, tag)
	code := int32(commitlog.TagsHashCode(tag))
	for _, c := range sd.CodeSet {
		if c == code {
			return
		}
	}
	sd.CodeSet = append(sd.CodeSet, code)
}

// IsTagType reports a TAG (or unspecified) expression.
func (sd SubscriptionData) IsTagType() bool {
	return sd.ExpressionType == "" || sd.ExpressionType == ExpressionTypeTag
}

// Filter returns the consume-queue filter for this subscription, for the
// store's GetMessage: ExpressionMessageFilter#isMatchedByConsumeQueue. Class
// filter mode and non-TAG expressions pass everything (SQL92 needs property
// filtering, which the pull path refuses first); "*" passes everything;
// otherwise a message passes when its tags code is in the set.
//
// The set is CodeSet as sent plus Java's hash of every tag in TagsSet
// (commitlog.TagsHashCode, the same function that computes the stored side):
// rocketmq-client-go hashes UTF-8 bytes, so for a non-ASCII tag its code
// never equals the stored Java hash and Java's broker filters such
// messages out. The union matches what either side computed; the client
// compares tag strings again after the pull, so a false positive costs
// nothing.
func (sd SubscriptionData) Filter() func(tagsCode int64) bool {
	if sd.ClassFilterMode || !sd.IsTagType() || sd.SubString == SubAll || sd.SubString == "" {
		return func(int64) bool { return true }
	}
	codes := make(map[int32]struct{}, len(sd.CodeSet)+len(sd.TagsSet))
	for _, c := range sd.CodeSet {
		codes[c] = struct{}{}
	}
	for _, t := range sd.TagsSet {
		codes[int32(commitlog.TagsHashCode(t))] = struct{}{}
	}
	return func(tagsCode int64) bool {
		// Java compares tagsCode.intValue(): truncate, don't range-check.
		_, ok := codes[int32(tagsCode)]
		return ok
	}
}

// consumerIDListBody is GET_CONSUMER_LIST_BY_GROUP's response body.
type consumerIDListBody struct {
	ConsumerIDList []string `json:"consumerIdList"`
}

// EncodeConsumerIDList is the GET_CONSUMER_LIST_BY_GROUP (38) body,
// {"consumerIdList":[...]}; an empty list is [] rather than null.
func EncodeConsumerIDList(ids []string) []byte {
	if ids == nil {
		ids = []string{}
	}
	b, _ := json.Marshal(consumerIDListBody{ConsumerIDList: ids}) // []string always encodes
	return b
}

// RemarkNoConsumer is the SYSTEM_ERROR remark GET_CONSUMER_LIST_BY_GROUP
// gives for a group without clients.
func RemarkNoConsumer(group string) string { return "no consumer for this group, " + group }
