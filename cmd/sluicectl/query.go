package main

import (
	"context"
	ebin "encoding/binary" // main_test.go has a func binary
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// Message look-ups, as mqadmin's queryMsgById and queryMsgByKey.

// queryCommands joins the command table (main.go).
var queryCommands = map[string]command{
	"queryMsgById":  {"show the message an offset msgId names (VIEW_MESSAGE_BY_ID)", runQueryMsgByID},
	"queryMsgByKey": {"list a topic's messages with a key (QUERY_MESSAGE)", runQueryMsgByKey},
}

// queriedMessage is one message as the look-ups print it.
type queriedMessage struct {
	MsgID           string            `json:"msgId"` // UNIQ_KEY, else the offset msgId
	OffsetMsgID     string            `json:"offsetMsgId"`
	Topic           string            `json:"topic"`
	Tags            string            `json:"tags,omitempty"`
	Keys            string            `json:"keys,omitempty"`
	QueueID         int32             `json:"queueId"`
	QueueOffset     int64             `json:"queueOffset"`
	CommitLogOffset int64             `json:"commitLogOffset"`
	ReconsumeTimes  int32             `json:"reconsumeTimes"`
	BornTimestamp   int64             `json:"bornTimestamp"`
	StoreTimestamp  int64             `json:"storeTimestamp"`
	BornHost        string            `json:"bornHost"`
	StoreHost       string            `json:"storeHost"`
	SysFlag         int32             `json:"sysFlag"`
	Properties      map[string]string `json:"properties"`
	Body            string            `json:"body"`
	StoreSize       int32             `json:"storeSize"`
}

// decodeQueriedRecords reads stored records one after the other (MessageDecoder#decodes).
func decodeQueriedRecords(b []byte) ([]queriedMessage, error) {
	var out []queriedMessage
	for len(b) > 0 {
		m, err := commitlog.DecodeRecord(b)
		if err != nil {
			return out, fmt.Errorf("answer holds a record that does not decode: %w", err)
		}
		q := queriedMessage{
			OffsetMsgID: message.OffsetMsgID(m.StoreHost, m.PhysicalOffset),
			Topic:       m.Topic, QueueID: m.QueueID, QueueOffset: m.QueueOffset, CommitLogOffset: m.PhysicalOffset,
			ReconsumeTimes: m.ReconsumeTimes, BornTimestamp: m.BornTimestamp, StoreTimestamp: m.StoreTimestamp,
			BornHost: m.BornHost.String(), StoreHost: m.StoreHost.String(), SysFlag: m.SysFlag,
			Properties: map[string]string{}, Body: string(m.Body), StoreSize: m.StoreSize,
		}
		message.Each(m.Properties, func(k, v string) { q.Properties[k] = v })
		q.Tags, q.Keys = q.Properties[message.PropertyTags], q.Properties[message.PropertyKeys]
		q.MsgID = q.OffsetMsgID
		if id, ok := q.Properties[message.PropertyUniqClientMessageIDKeyIdx]; ok {
			q.MsgID = id
		}
		out = append(out, q)
		b = b[m.StoreSize:]
	}
	return out, nil
}

// decodeOffsetMsgID is MessageDecoder#decodeMessageId: the store host and
// the commit-log offset, in hex (16 bytes for IPv4, 28 for IPv6).
func decodeOffsetMsgID(id string) (netip.AddrPort, int64, error) {
	b, err := hex.DecodeString(id)
	if err != nil || (len(b) != 16 && len(b) != 28) {
		return netip.AddrPort{}, 0, fmt.Errorf("%q is not an offset msgId (32 or 56 hex digits: store host, port, commit-log offset)", id)
	}
	n := len(b) - 12
	ip, _ := netip.AddrFromSlice(b[:n])
	port := ebin.BigEndian.Uint32(b[n:])
	off := int64(ebin.BigEndian.Uint64(b[n+4:]))
	if port > math.MaxUint16 || off < 0 {
		return netip.AddrPort{}, 0, fmt.Errorf("%q is not an offset msgId (port %d, offset %d)", id, port, off)
	}
	return netip.AddrPortFrom(ip, uint16(port)), off, nil
}

func runQueryMsgByID(ctx context.Context, e *env, args []string) error {
	var bf brokerFlags
	var asJSON bool
	var id string
	fs := newFlags(e, "queryMsgById", "queryMsgById <offsetMsgId> [-b host:port] [--json]")
	bf.register(fs)
	fs.StringVar(&id, "i", "", "the offset msgId (as mqadmin's -i); or give it as the argument")
	fs.BoolVar(&asJSON, "json", false, "print the message as JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if id == "" && len(rest) == 1 {
		id, rest = rest[0], nil
	}
	if id == "" || len(rest) > 0 {
		return usagef("want exactly one offset msgId")
	}
	host, off, err := decodeOffsetMsgID(id)
	if err != nil {
		return usagef("%v", err)
	}
	// The id names the broker that stored the message; -b overrides it (a
	// broker reached through another address than the one it stamps).
	if !queryFlagSet(fs, "b") {
		bf.addr = host.String()
	}
	return withBroker(ctx, &bf, func(a *admin) error {
		v := remoting.ViewMessageRequestHeader{Offset: off}
		req := remoting.NewRequest(remoting.ViewMessageByID, nil, nil)
		v.Encode(req)
		resp, err := a.call(ctx, remoting.ViewMessageByID, req.ExtFields, nil)
		if err != nil {
			return err
		}
		ms, err := decodeQueriedRecords(resp.Body)
		if err != nil {
			return err
		}
		if len(ms) != 1 {
			return fmt.Errorf("broker %s answered %d records for one offset", a.addr, len(ms))
		}
		if asJSON {
			return printQueryJSON(e, ms[0])
		}
		printQueriedMessage(e, &ms[0])
		return nil
	})
}

func runQueryMsgByKey(ctx context.Context, e *env, args []string) error {
	var bf brokerFlags
	var asJSON bool
	var begin, end int64
	var maxNum int
	fs := newFlags(e, "queryMsgByKey", "queryMsgByKey <topic> <key> [--begin ms] [--end ms] [--max n] [-b host:port] [--json]")
	bf.register(fs)
	fs.Int64Var(&begin, "begin", 0, "earliest store time, ms since the epoch")
	fs.Int64Var(&end, "end", math.MaxInt64, "latest store time, ms since the epoch")
	fs.IntVar(&maxNum, "max", 64, "most messages to ask for (the broker caps it at maxMsgsNumBatch, 64)")
	fs.BoolVar(&asJSON, "json", false, "print the messages as JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 2 {
		return usagef("want a topic and a key, got %d arguments", len(rest))
	}
	topic, key := rest[0], rest[1]
	if maxNum <= 0 || maxNum > math.MaxInt32 {
		return usagef("--max %d: want a positive number", maxNum)
	}
	return withBroker(ctx, &bf, func(a *admin) error {
		h := remoting.QueryMessageRequestHeader{Topic: topic, Key: key, MaxNum: int32(maxNum), BeginTimestamp: begin, EndTimestamp: end}
		req := remoting.NewRequest(remoting.QueryMessage, nil, nil)
		h.Encode(req)
		req.ExtFields[remoting.UniqueMsgQueryFlag] = "false"
		resp, err := a.invoke(ctx, remoting.QueryMessage, req.ExtFields, nil)
		if err != nil {
			return err
		}
		var found []queriedMessage
		switch resp.ResponseCode() {
		case remoting.Success:
			ms, err := decodeQueriedRecords(resp.Body)
			if err != nil {
				return err
			}
			// The index answers by hash; keep the messages that carry the
			// key in the topic, as MQAdminImpl#queryMessage does.
			for _, m := range ms {
				if m.Topic == topic && slices.Contains(strings.Split(m.Keys, " "), key) {
					found = append(found, m)
				}
			}
		case remoting.QueryNotFound:
		default:
			return a.answerErr(remoting.QueryMessage, resp)
		}
		if asJSON {
			if found == nil {
				found = []queriedMessage{}
			}
			return printQueryJSON(e, found)
		}
		if len(found) == 0 {
			return fmt.Errorf("no message with key %q in topic %s on broker %s", key, topic, a.addr)
		}
		// QueryMsgByKeySubCommand's table.
		fmt.Fprintf(e.stdout, "%-50s %4s %40s\n", "#Message ID", "#QID", "#Offset")
		for _, m := range found {
			fmt.Fprintf(e.stdout, "%-50s %4d %40d\n", m.MsgID, m.QueueID, m.QueueOffset)
		}
		return nil
	})
}

// printQueriedMessage prints one message as QueryMsgByIdSubCommand#printMsg does.
func printQueriedMessage(e *env, m *queriedMessage) {
	ts := func(ms int64) string { return time.UnixMilli(ms).Format("2006-01-02 15:04:05.000") }
	line := func(k, v string) { fmt.Fprintf(e.stdout, "%-20s %s\n", k+":", v) }
	line("OffsetID", m.OffsetMsgID)
	line("Topic", m.Topic)
	line("Tags", "["+m.Tags+"]")
	line("Keys", "["+m.Keys+"]")
	line("Queue ID", strconv.Itoa(int(m.QueueID)))
	line("Queue Offset", strconv.FormatInt(m.QueueOffset, 10))
	line("CommitLog Offset", strconv.FormatInt(m.CommitLogOffset, 10))
	line("Reconsume Times", strconv.Itoa(int(m.ReconsumeTimes)))
	line("Born Timestamp", ts(m.BornTimestamp))
	line("Store Timestamp", ts(m.StoreTimestamp))
	line("Born Host", m.BornHost)
	line("Store Host", m.StoreHost)
	line("System Flag", strconv.Itoa(int(m.SysFlag)))
	keys := make([]string, 0, len(m.Properties))
	for k := range m.Properties {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	props := make([]string, 0, len(keys))
	for _, k := range keys {
		props = append(props, k+"="+m.Properties[k])
	}
	line("Properties", "{"+strings.Join(props, ", ")+"}")
	line("Message Body", strconv.Quote(m.Body))
}

func printQueryJSON(e *env, v any) error {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	fmt.Fprintln(e.stdout, string(out))
	return nil
}

// queryFlagSet reports whether the flag was set on the command line.
func queryFlagSet(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
