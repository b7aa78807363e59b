package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sluice-mq/sluice/remoting"
)

// stringList is a flag that may be given several times.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// queueProgress is one queue of a group's progress.
type queueProgress struct {
	Topic          string `json:"topic"`
	QueueID        int    `json:"queueId"`
	BrokerOffset   int64  `json:"brokerOffset"`
	ConsumerOffset *int64 `json:"consumerOffset"` // nil: the group has committed nothing here
	Lag            *int64 `json:"lag"`
}

func runGroup(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand: progress")
	}
	if args[0] != "progress" {
		return usagef("unknown subcommand %q: want progress", args[0])
	}
	var bf brokerFlags
	var topics stringList
	var asJSON bool
	fs := newFlags(e, "group progress", "group progress <group> -t topic [-t topic …] [-b host:port] [--json]")
	bf.register(fs)
	fs.Var(&topics, "t", "topic the group consumes (repeat for several)")
	fs.BoolVar(&asJSON, "json", false, "print the progress as JSON")
	rest, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("want exactly one group name, got %d arguments", len(rest))
	}
	// This command asks queue by queue, so the topics are given;
	// consumerProgress asks GET_CONSUME_STATS, which finds them itself.
	if len(topics) == 0 {
		return usagef("give the group's topics with -t (one or more)")
	}
	group := rest[0]
	return withBroker(ctx, &bf, func(a *admin) error {
		progress, err := groupProgress(ctx, a, group, topics)
		if err != nil {
			return err
		}
		if asJSON {
			out, err := json.MarshalIndent(map[string]any{"group": group, "queues": progress}, "", "  ")
			if err != nil {
				return fmt.Errorf("encode progress: %w", err)
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", out)
			return err
		}
		_, err = fmt.Fprint(e.stdout, renderProgress(group, progress))
		return err
	})
}

// groupProgress asks, for every read queue of every topic, the group's
// committed offset (QUERY_CONSUMER_OFFSET) and the queue's max offset
// (GET_MAX_OFFSET). The calls share one connection and go out together.
// The group's retry topic is added when the broker has one, as RocketMQ's
// consumerProgress shows it too.
func groupProgress(ctx context.Context, a *admin, group string, topics []string) ([]queueProgress, error) {
	table, _, err := allTopics(ctx, a)
	if err != nil {
		return nil, err
	}
	retry := "%RETRY%" + group
	if _, ok := table[retry]; ok && !slices.Contains(topics, retry) {
		topics = append(topics, retry)
	}
	var out []queueProgress
	for _, t := range topics {
		tc, ok := table[t]
		if !ok {
			return nil, fmt.Errorf("topic %s does not exist on broker %s", t, a.addr)
		}
		for q := 0; q < tc.ReadQueueNums; q++ {
			out = append(out, queueProgress{Topic: t, QueueID: q})
		}
	}
	errs := make([]error, len(out))
	// Bounded so that a topic with thousands of queues does not land as
	// one burst in the broker's admin queue.
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = queryQueue(ctx, a, group, &out[i])
		}()
	}
	wg.Wait()
	// The first error is enough: when one queue fails, the others
	// usually fail the same way.
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func queryQueue(ctx context.Context, a *admin, group string, p *queueProgress) error {
	qid := strconv.Itoa(p.QueueID)
	resp, err := a.call(ctx, remoting.GetMaxOffset, map[string]string{"topic": p.Topic, "queueId": qid}, nil)
	if err != nil {
		return err
	}
	if p.BrokerOffset, err = offsetField(resp); err != nil {
		return fmt.Errorf("GET_MAX_OFFSET %s:%d: %w", p.Topic, p.QueueID, err)
	}
	resp, err = a.invoke(ctx, remoting.QueryConsumerOffset,
		map[string]string{"consumerGroup": group, "topic": p.Topic, "queueId": qid}, nil)
	if err != nil {
		return err
	}
	switch resp.ResponseCode() {
	case remoting.Success:
		off, err := offsetField(resp)
		if err != nil {
			return fmt.Errorf("QUERY_CONSUMER_OFFSET %s:%d: %w", p.Topic, p.QueueID, err)
		}
		lag := max(0, p.BrokerOffset-off)
		p.ConsumerOffset, p.Lag = &off, &lag
	case remoting.QueryNotFound:
		// Nothing committed yet: no offset, and no lag to speak of.
	default:
		return a.answerErr(remoting.QueryConsumerOffset, resp)
	}
	return nil
}

func offsetField(resp *remoting.Command) (int64, error) {
	v := resp.Ext("offset")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("answer has no valid offset (%q)", v)
	}
	return n, nil
}

func renderProgress(group string, progress []queueProgress) string {
	t := &table{}
	t.add(row{cells: []cell{plain("TOPIC"), plain("QUEUE"), plain("BROKER OFFSET"), plain("CONSUMER OFFSET"), plain("LAG")}})
	var total int64
	uncommitted := 0
	for _, p := range progress {
		consumer, lag := "-", "-"
		if p.ConsumerOffset != nil {
			consumer, lag = strconv.FormatInt(*p.ConsumerOffset, 10), strconv.FormatInt(*p.Lag, 10)
			total += *p.Lag
		} else {
			uncommitted++
		}
		t.add(row{cells: []cell{plain(p.Topic), plain(strconv.Itoa(p.QueueID)),
			plain(strconv.FormatInt(p.BrokerOffset, 10)), plain(consumer), plain(lag)}})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "group %s\n\n", group)
	t.render(&b)
	fmt.Fprintf(&b, "\ntotal lag %d", total)
	if uncommitted > 0 {
		fmt.Fprintf(&b, " (%s without a committed offset)", plural(uncommitted, "queue"))
	}
	b.WriteString("\n")
	return b.String()
}
