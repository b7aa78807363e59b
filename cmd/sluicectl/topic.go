package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-mq/sluice/remoting"
)

// Permission bits of a topic (PermName.java).
const (
	permRead    = 4
	permWrite   = 2
	permInherit = 1
)

// topicConfig is one entry of GET_ALL_TOPIC_CONFIG's topicConfigTable.
type topicConfig struct {
	TopicName       string `json:"topicName"`
	ReadQueueNums   int    `json:"readQueueNums"`
	WriteQueueNums  int    `json:"writeQueueNums"`
	Perm            int    `json:"perm"`
	TopicFilterType string `json:"topicFilterType"`
	TopicSysFlag    int    `json:"topicSysFlag"`
	Order           bool   `json:"order"`
}

// topicConfigWrapper is TopicConfigSerializeWrapper.
type topicConfigWrapper struct {
	TopicConfigTable map[string]topicConfig `json:"topicConfigTable"`
	DataVersion      json.RawMessage        `json:"dataVersion"`
}

// noTopicsRemark is how a RocketMQ broker with an empty table answers
// GET_ALL_TOPIC_CONFIG (SYSTEM_ERROR): an empty list, not a failure.
const noTopicsRemark = "No topic in this broker"

func runTopic(ctx context.Context, e *env, args []string) error {
	const synopsis = "topic list|create|delete …"
	if len(args) == 0 {
		return usagef("missing subcommand: list, create or delete")
	}
	switch args[0] {
	case "list":
		return topicList(ctx, e, args[1:])
	case "create":
		return topicCreate(ctx, e, args[1:])
	case "delete":
		return topicDelete(ctx, e, args[1:])
	case "-h", "--help", "-help":
		fmt.Fprintf(e.stderr, "usage: sluicectl %s (each takes -h)\n", synopsis)
		return nil
	}
	return usagef("unknown subcommand %q: want list, create or delete", args[0])
}

func topicList(ctx context.Context, e *env, args []string) error {
	var bf brokerFlags
	var asJSON bool
	fs := newFlags(e, "topic list", "topic list [-b host:port] [--json]")
	bf.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print GET_ALL_TOPIC_CONFIG's body as JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	return withBroker(ctx, &bf, func(a *admin) error {
		topics, raw, err := allTopics(ctx, a)
		if err != nil {
			return err
		}
		if asJSON {
			if raw == nil {
				raw = []byte(`{"topicConfigTable":{}}`)
			}
			return writeIndented(e, raw)
		}
		t := &table{}
		t.add(row{cells: []cell{plain("TOPIC"), plain("READ"), plain("WRITE"), plain("PERM"), plain("ORDER"), plain("SYSFLAG")}})
		for _, name := range slices.Sorted(maps.Keys(topics)) {
			tc := topics[name]
			t.add(row{cells: []cell{
				plain(name), plain(strconv.Itoa(tc.ReadQueueNums)), plain(strconv.Itoa(tc.WriteQueueNums)),
				plain(permString(tc.Perm)), plain(strconv.FormatBool(tc.Order)), plain(strconv.Itoa(tc.TopicSysFlag)),
			}})
		}
		var b strings.Builder
		t.render(&b)
		_, err = fmt.Fprint(e.stdout, b.String())
		return err
	})
}

// allTopics returns the broker's topic table, and the body it came in.
func allTopics(ctx context.Context, a *admin) (map[string]topicConfig, []byte, error) {
	resp, err := a.invoke(ctx, remoting.GetAllTopicConfig, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case resp.ResponseCode() == remoting.SystemError && resp.Remark == noTopicsRemark:
		return map[string]topicConfig{}, nil, nil
	case resp.ResponseCode() != remoting.Success:
		return nil, nil, a.answerErr(remoting.GetAllTopicConfig, resp)
	}
	var w topicConfigWrapper
	if err := json.Unmarshal(resp.Body, &w); err != nil {
		return nil, nil, fmt.Errorf("decode topic table from %s: %w", a.addr, err)
	}
	if w.TopicConfigTable == nil {
		w.TopicConfigTable = map[string]topicConfig{}
	}
	return w.TopicConfigTable, resp.Body, nil
}

// permString is PermName#perm2String: "RW-" for 6, "RWX" for 7 (X is
// inherit), followed by the number operators also know.
func permString(perm int) string {
	b := []byte("---")
	if perm&permRead != 0 {
		b[0] = 'R'
	}
	if perm&permWrite != 0 {
		b[1] = 'W'
	}
	if perm&permInherit != 0 {
		b[2] = 'X'
	}
	return fmt.Sprintf("%s(%d)", b, perm)
}

func topicCreate(ctx context.Context, e *env, args []string) error {
	var bf brokerFlags
	var read, write, perm int
	var order bool
	fs := newFlags(e, "topic create", "topic create <topic> [-b host:port] [-r 8] [-w 8] [--perm 6] [--order]")
	bf.register(fs)
	// 8 queues and perm 6 are what RocketMQ's admin tools default to.
	fs.IntVar(&read, "r", 8, "read queue count")
	fs.IntVar(&write, "w", 8, "write queue count")
	fs.IntVar(&perm, "perm", permRead|permWrite, "permission bits: 2 write, 4 read, 6 both")
	fs.BoolVar(&order, "order", false, "mark the topic as ordered")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("want exactly one topic name, got %d arguments", len(rest))
	}
	if read <= 0 || write <= 0 {
		return usagef("-r and -w must be positive")
	}
	if perm < 0 || perm > permRead|permWrite|permInherit|8 {
		return usagef("--perm %d is not a permission (0-15)", perm)
	}
	topic := rest[0]
	ext := map[string]string{
		"topic":           topic,
		"defaultTopic":    "TBW102",
		"readQueueNums":   strconv.Itoa(read),
		"writeQueueNums":  strconv.Itoa(write),
		"perm":            strconv.Itoa(perm),
		"topicFilterType": "SINGLE_TAG",
		"topicSysFlag":    "0",
		"order":           strconv.FormatBool(order),
	}
	return withBroker(ctx, &bf, func(a *admin) error {
		if _, err := a.call(ctx, remoting.UpdateAndCreateTopic, ext, nil); err != nil {
			return err
		}
		_, err := fmt.Fprintf(e.stdout, "topic %s created or updated on %s: %d read / %d write queues, perm %s\n",
			topic, a.addr, read, write, permString(perm))
		return err
	})
}

func topicDelete(ctx context.Context, e *env, args []string) error {
	var bf brokerFlags
	var namesrv string
	fs := newFlags(e, "topic delete", "topic delete <topic> [-b host:port] [-n host:port[;host:port]]")
	bf.register(fs)
	fs.StringVar(&namesrv, "n", "", "also delete the topic's route on these name servers (DELETE_TOPIC_IN_NAMESRV), as mqadmin deleteTopic does")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("want exactly one topic name, got %d arguments", len(rest))
	}
	topic := rest[0]
	ext := map[string]string{"topic": topic}
	err = withBroker(ctx, &bf, func(a *admin) error {
		if _, err := a.call(ctx, remoting.DeleteTopicInBroker, ext, nil); err != nil {
			return err
		}
		_, err := fmt.Fprintf(e.stdout, "topic %s deleted on broker %s\n", topic, a.addr)
		return err
	})
	if err != nil {
		return err
	}
	// A name server keeps a route until told: the broker's next
	// registration adds topics but never removes one.
	for _, addr := range splitAddrs(namesrv) {
		a, err := dialAdmin(ctx, "name server", addr, bf.timeout, &bf.tls, bf.credentials())
		if err != nil {
			return err
		}
		_, err = a.call(ctx, remoting.DeleteTopicInNamesrv, ext, nil)
		a.Close()
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(e.stdout, "topic %s deleted on name server %s\n", topic, addr); err != nil {
			return err
		}
	}
	return nil
}
