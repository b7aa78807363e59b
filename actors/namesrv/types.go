package namesrv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/remoting"
)

// RegisterBrokerBody is the uncompressed REGISTER_BROKER body
// (RegisterBrokerBody.java). Its topic table is the broker's own model,
// metadata.TopicConfigSerializeWrapper, the same shape as topics.json.
type RegisterBrokerBody struct {
	FilterServerList            []string                             `json:"filterServerList"`
	TopicConfigSerializeWrapper metadata.TopicConfigSerializeWrapper `json:"topicConfigSerializeWrapper"`
}

// Encode writes the body as a 4.x broker does, without whitespace.
func (b *RegisterBrokerBody) Encode() []byte {
	out := *b
	if out.FilterServerList == nil {
		out.FilterServerList = []string{}
	}
	if out.TopicConfigSerializeWrapper.TopicConfigTable == nil {
		out.TopicConfigSerializeWrapper.TopicConfigTable = map[string]metadata.TopicConfig{}
	}
	return marshal(&out)
}

// DecodeRegisterBrokerBody parses a REGISTER_BROKER body. It accepts
// standard JSON and fastjson's default dialect, which leaves integer map
// keys unquoted.
func DecodeRegisterBrokerBody(data []byte) (*RegisterBrokerBody, error) {
	var b RegisterBrokerBody
	if err := remoting.UnmarshalLenient(data, &b); err != nil {
		return nil, fmt.Errorf("decode register broker body: %w", err)
	}
	return &b, nil
}

// BrokerAddrs maps broker id (0 = master) to "ip:port".
//
// It encodes compactly with quoted keys in numeric order; see the package
// comment for why that matters to the Go client.
type BrokerAddrs map[int64]string

// MarshalJSON writes {"0":"addr","1":"addr"}; a nil map is {} so that
// brokerAddrs is never missing or null.
func (a BrokerAddrs) MarshalJSON() ([]byte, error) {
	ids := make([]int64, 0, len(a))
	for id := range a {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	buf := make([]byte, 0, 2+len(a)*24)
	buf = append(buf, '{')
	for i, id := range ids {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = strconv.AppendInt(buf, id, 10)
		buf = append(buf, '"', ':')
		buf = appendJSONString(buf, a[id])
	}
	return append(buf, '}'), nil
}

// UnmarshalJSON reads the object with its keys as decimal broker ids.
func (a *BrokerAddrs) UnmarshalJSON(data []byte) error {
	var raw map[string]string
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := make(BrokerAddrs, len(raw))
	for k, v := range raw {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return fmt.Errorf("broker id %q: %w", k, err)
		}
		out[id] = v
	}
	*a = out
	return nil
}

// BrokerData is one broker name (a master and its slaves) in the routes.
type BrokerData struct {
	BrokerAddrs BrokerAddrs `json:"brokerAddrs"`
	BrokerName  string      `json:"brokerName"`
	Cluster     string      `json:"cluster"`
}

func (b BrokerData) clone() BrokerData {
	addrs := make(BrokerAddrs, len(b.BrokerAddrs))
	for id, addr := range b.BrokerAddrs {
		addrs[id] = addr
	}
	b.BrokerAddrs = addrs
	return b
}

// QueueData is how one broker name serves one topic.
type QueueData struct {
	BrokerName     string `json:"brokerName"`
	Perm           int    `json:"perm"`
	ReadQueueNums  int    `json:"readQueueNums"`
	TopicSysFlag   int    `json:"topicSysFlag"`
	WriteQueueNums int    `json:"writeQueueNums"`
}

// TopicRouteData is the answer to GET_ROUTEINFO_BY_TOPIC. BrokerDatas and
// QueueDatas are sorted by broker name, as the Go client sorts them itself
// and as a stable answer is easier to compare.
type TopicRouteData struct {
	BrokerDatas []BrokerData `json:"brokerDatas"`
	// FilterServerTable is always empty: Sluice has no filter servers, but
	// RocketMQ always writes the map.
	FilterServerTable map[string][]string `json:"filterServerTable"`
	OrderTopicConf    string              `json:"orderTopicConf,omitempty"`
	QueueDatas        []QueueData         `json:"queueDatas"`
}

// Encode writes the route as the Go client expects it: compact, every
// brokerAddrs present, keys in a fixed order.
func (t *TopicRouteData) Encode() []byte {
	out := *t
	if out.BrokerDatas == nil {
		out.BrokerDatas = []BrokerData{}
	}
	if out.QueueDatas == nil {
		out.QueueDatas = []QueueData{}
	}
	if out.FilterServerTable == nil {
		out.FilterServerTable = map[string][]string{}
	}
	return marshal(&out)
}

// DecodeTopicRouteData parses a route body, from Sluice or from a Java
// name server in either JSON dialect.
func DecodeTopicRouteData(data []byte) (*TopicRouteData, error) {
	var t TopicRouteData
	if err := remoting.UnmarshalLenient(data, &t); err != nil {
		return nil, fmt.Errorf("decode topic route data: %w", err)
	}
	return &t, nil
}

// ClusterInfo is the answer to GET_BROKER_CLUSTER_INFO.
type ClusterInfo struct {
	BrokerAddrTable  map[string]BrokerData `json:"brokerAddrTable"`
	ClusterAddrTable map[string][]string   `json:"clusterAddrTable"`
}

// Encode writes the cluster info compactly.
func (c *ClusterInfo) Encode() []byte {
	out := *c
	if out.BrokerAddrTable == nil {
		out.BrokerAddrTable = map[string]BrokerData{}
	}
	if out.ClusterAddrTable == nil {
		out.ClusterAddrTable = map[string][]string{}
	}
	return marshal(&out)
}

// TopicList is the answer to GET_ALL_TOPIC_LIST_FROM_NAMESERVER.
type TopicList struct {
	TopicList []string `json:"topicList"`
}

// Encode writes {"topicList":[...]}.
func (l *TopicList) Encode() []byte {
	out := *l
	if out.TopicList == nil {
		out.TopicList = []string{}
	}
	return marshal(&out)
}

// marshal encodes one of this package's wire types. They hold only
// strings, numbers, booleans, slices and maps with string or BrokerAddrs
// keys, so encoding cannot fail; a failure is a programming error.
// HTML escaping is off because Java does not do it and the Go client's
// brokerAddrs parser would not undo it.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("namesrv: encode %T: %v", v, err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// appendJSONString appends s as a JSON string, escaping only what JSON
// requires.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '"')
}
