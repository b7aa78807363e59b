package admin

import (
	"encoding/json"
	"sort"
	"strconv"

	"github.com/sluice-mq/sluice/actors/stats"
)

// fastjson is a small writer of the bodies RocketMQ's admin answers carry,
// in fastjson's default dialect as Java tools read them: fields in
// alphabetical order (SortField) and, for Map<MessageQueue, V> tables, the
// MessageQueue object itself as the key ({{"brokerName":…}:…}) — not
// standard JSON, which encoding/json cannot write.
type fastjson struct{ b []byte }

func (w *fastjson) raw(s string) *fastjson { w.b = append(w.b, s...); return w }

func (w *fastjson) str(s string) *fastjson {
	q, _ := json.Marshal(s)
	w.b = append(w.b, q...)
	return w
}

func (w *fastjson) int(n int64) *fastjson { w.b = strconv.AppendInt(w.b, n, 10); return w }

func (w *fastjson) double(v float64) *fastjson { w.b = stats.AppendJavaDouble(w.b, v); return w }

// field writes `"name":` after a comma unless first.
func (w *fastjson) field(name string, first bool) *fastjson {
	if !first {
		w.b = append(w.b, ',')
	}
	return w.str(name).raw(":")
}

// value writes v with encoding/json (nested beans whose order no Java
// reader depends on).
func (w *fastjson) value(v any) *fastjson {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	w.b = append(w.b, b...)
	return w
}

// messageQueue writes a MessageQueue as fastjson writes it (brokerName,
// queueId, topic).
func (w *fastjson) messageQueue(topic, brokerName string, queueID int32) *fastjson {
	w.raw(`{"brokerName":`).str(brokerName).raw(`,"queueId":`).int(int64(queueID)).raw(`,"topic":`).str(topic)
	return w.raw("}")
}

// queueKey is one entry of a Map<MessageQueue, V>.
type queueKey struct {
	Topic   string
	QueueID int32
}

func sortQueueKeys(ks []queueKey) {
	sort.Slice(ks, func(i, j int) bool {
		if ks[i].Topic != ks[j].Topic {
			return ks[i].Topic < ks[j].Topic
		}
		return ks[i].QueueID < ks[j].QueueID
	})
}

// queueTable writes a Map<MessageQueue, V>, each value by put.
func (w *fastjson) queueTable(brokerName string, keys []queueKey, put func(i int)) *fastjson {
	w.raw("{")
	for i, k := range keys {
		if i > 0 {
			w.raw(",")
		}
		w.messageQueue(k.Topic, brokerName, k.QueueID).raw(":")
		put(i)
	}
	return w.raw("}")
}
