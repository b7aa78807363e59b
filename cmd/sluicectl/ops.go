package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mq/sluice/remoting"
)

// The operators' commands, named as mqadmin names them.

// brokerCmd parses a broker command's flags and runs fn on a connection.
func brokerCmd(ctx context.Context, e *env, args []string, name, synopsis string, define func(*flagSet), fn func(*admin) error) error {
	var bf brokerFlags
	fs := newFlags(e, name, synopsis)
	bf.register(fs)
	define(&flagSet{fs})
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	return withBroker(ctx, &bf, fn)
}

// flagSet names the flag helpers the commands share.
type flagSet struct{ *flag.FlagSet }

func runGetBrokerConfig(ctx context.Context, e *env, args []string) error {
	return brokerCmd(ctx, e, args, "getBrokerConfig", "getBrokerConfig [-b host:port]", func(*flagSet) {}, func(a *admin) error {
		resp, err := a.call(ctx, remoting.GetBrokerConfig, nil, nil)
		if err != nil {
			return err
		}
		var b strings.Builder
		for _, line := range strings.Split(strings.TrimSpace(string(resp.Body)), "\n") {
			k, v, _ := strings.Cut(line, "=")
			fmt.Fprintf(&b, "%-50s=  %s\n", k, v)
		}
		_, err = fmt.Fprint(e.stdout, b.String())
		return err
	})
}

func runUpdateBrokerConfig(ctx context.Context, e *env, args []string) error {
	var key, value string
	return brokerCmd(ctx, e, args, "updateBrokerConfig", "updateBrokerConfig -k key -v value [-b host:port]", func(f *flagSet) {
		f.StringVar(&key, "k", "", "config key (one of the keys that change at run time)")
		f.StringVar(&value, "v", "", "new value")
	}, func(a *admin) error {
		if key == "" {
			return usagef("give the key with -k and the value with -v")
		}
		if _, err := a.call(ctx, remoting.UpdateBrokerConfig, nil, []byte(key+"="+value+"\n")); err != nil {
			return err
		}
		_, err := fmt.Fprintf(e.stdout, "update broker config success, %s %s=%s\n", a.addr, key, value)
		return err
	})
}

// offsetWrapper is RocketMQ's OffsetWrapper.
type offsetWrapper struct {
	BrokerOffset   int64 `json:"brokerOffset"`
	ConsumerOffset int64 `json:"consumerOffset"`
	LastTimestamp  int64 `json:"lastTimestamp"`
}

func runConsumerProgress(ctx context.Context, e *env, args []string) error {
	var group, topic string
	return brokerCmd(ctx, e, args, "consumerProgress", "consumerProgress -g group [-t topic] [-b host:port]", func(f *flagSet) {
		f.StringVar(&group, "g", "", "consumer group")
		f.StringVar(&topic, "t", "", "topic (default: every topic the group has offsets for)")
	}, func(a *admin) error {
		if group == "" {
			return usagef("give the group with -g")
		}
		ext := map[string]string{"consumerGroup": group}
		if topic != "" {
			ext["topic"] = topic
		}
		resp, err := a.call(ctx, remoting.GetConsumeStats, ext, nil)
		if err != nil {
			return err
		}
		mqs, ows, top, err := decodeQueueTable[offsetWrapper](resp.Body, "offsetTable")
		if err != nil {
			return fmt.Errorf("decode ConsumeStats from %s: %w", a.addr, err)
		}
		idx := make([]int, len(mqs))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(x, y int) bool {
			p, q := mqs[idx[x]], mqs[idx[y]]
			if p.Topic != q.Topic {
				return p.Topic < q.Topic
			}
			return p.QueueID < q.QueueID
		})
		var b strings.Builder
		fmt.Fprintf(&b, "%-32s  %-20s  %-4s  %-14s  %-14s  %-8s  %s\n", "#Topic", "#Broker Name", "#QID", "#Broker Offset", "#Consumer Offset", "#Diff", "#LastTime")
		var diff int64
		for _, i := range idx {
			ow := ows[i]
			last := "N/A"
			if ow.LastTimestamp > 0 {
				last = time.UnixMilli(ow.LastTimestamp).Format("2006-01-02 15:04:05")
			}
			d := ow.BrokerOffset - ow.ConsumerOffset
			diff += d
			fmt.Fprintf(&b, "%-32s  %-20s  %-4d  %-14d  %-16d  %-8d  %s\n", mqs[i].Topic, mqs[i].BrokerName, mqs[i].QueueID, ow.BrokerOffset, ow.ConsumerOffset, d, last)
		}
		tps := string(top["consumeTps"])
		fmt.Fprintf(&b, "\nConsume TPS: %s\nDiff Total: %d\n", tps, diff)
		_, err = fmt.Fprint(e.stdout, b.String())
		return err
	})
}

// parseResetTime reads -s as mqadmin does: "now", milliseconds, or
// yyyy-MM-dd#HH:mm:ss:SSS (local time).
func parseResetTime(s string) (int64, error) {
	switch {
	case s == "now":
		return time.Now().UnixMilli(), nil
	case s == "-1":
		return -1, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	t, err := time.ParseInLocation("2006-01-02#15:04:05:000", s, time.Local)
	if err != nil {
		return 0, usagef("-s %q: want now, milliseconds or yyyy-MM-dd#HH:mm:ss:SSS", s)
	}
	return t.UnixMilli(), nil
}

func runResetOffsetByTime(ctx context.Context, e *env, args []string) error {
	var group, topic, ts string
	var force bool
	return brokerCmd(ctx, e, args, "resetOffsetByTime", "resetOffsetByTime -g group -t topic -s time [-f=true] [-b host:port]", func(f *flagSet) {
		f.StringVar(&group, "g", "", "consumer group")
		f.StringVar(&topic, "t", "", "topic")
		f.StringVar(&ts, "s", "", "time: now, ms since the epoch, or yyyy-MM-dd#HH:mm:ss:SSS")
		f.BoolVar(&force, "f", true, "reset even when it moves the group forward")
	}, func(a *admin) error {
		if group == "" || topic == "" || ts == "" {
			return usagef("give -g group, -t topic and -s time")
		}
		at, err := parseResetTime(ts)
		if err != nil {
			return err
		}
		resp, err := a.call(ctx, remoting.InvokeBrokerToResetOffset, map[string]string{
			"topic": topic, "group": group, "timestamp": strconv.FormatInt(at, 10), "isForce": strconv.FormatBool(force)}, nil)
		if err != nil {
			return err
		}
		mqs, offs, _, err := decodeQueueTable[int64](resp.Body, "offsetTable")
		if err != nil {
			return fmt.Errorf("decode ResetOffsetBody from %s: %w", a.addr, err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "rollback consumer offset by specified group[%s], topic[%s], force[%v], timestamp(string)[%s], timestamp(long)[%d]\n", group, topic, force, ts, at)
		fmt.Fprintf(&b, "%-40s  %-40s  %-40s\n", "#brokerName", "#queueId", "#offset")
		idx := make([]int, len(mqs))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(x, y int) bool { return mqs[idx[x]].QueueID < mqs[idx[y]].QueueID })
		for _, i := range idx {
			fmt.Fprintf(&b, "%-40s  %-40d  %-40d\n", mqs[i].BrokerName, mqs[i].QueueID, offs[i])
		}
		_, err = fmt.Fprint(e.stdout, b.String())
		return err
	})
}

// topicOffset is RocketMQ's TopicOffset.
type topicOffset struct {
	MinOffset           int64 `json:"minOffset"`
	MaxOffset           int64 `json:"maxOffset"`
	LastUpdateTimestamp int64 `json:"lastUpdateTimestamp"`
}

func runTopicStatus(ctx context.Context, e *env, args []string) error {
	var topic string
	return brokerCmd(ctx, e, args, "topicStatus", "topicStatus -t topic [-b host:port]", func(f *flagSet) {
		f.StringVar(&topic, "t", "", "topic")
	}, func(a *admin) error {
		if topic == "" {
			return usagef("give the topic with -t")
		}
		resp, err := a.call(ctx, remoting.GetTopicStatsInfo, map[string]string{"topic": topic}, nil)
		if err != nil {
			return err
		}
		mqs, tos, _, err := decodeQueueTable[topicOffset](resp.Body, "offsetTable")
		if err != nil {
			return fmt.Errorf("decode TopicStatsTable from %s: %w", a.addr, err)
		}
		idx := make([]int, len(mqs))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(x, y int) bool { return mqs[idx[x]].QueueID < mqs[idx[y]].QueueID })
		var b strings.Builder
		fmt.Fprintf(&b, "%-32s  %-4s  %-18s  %-18s  %s\n", "#Broker Name", "#QID", "#Min Offset", "#Max Offset", "#Last Updated")
		for _, i := range idx {
			last := ""
			if ts := tos[i].LastUpdateTimestamp; ts > 0 {
				last = time.UnixMilli(ts).Format("2006-01-02 15:04:05,000")
			}
			fmt.Fprintf(&b, "%-32s  %-4d  %-18d  %-18d  %s\n", mqs[i].BrokerName, mqs[i].QueueID, tos[i].MinOffset, tos[i].MaxOffset, last)
		}
		_, err = fmt.Fprint(e.stdout, b.String())
		return err
	})
}

// connection is RocketMQ's Connection bean.
type connection struct {
	ClientID   string `json:"clientId"`
	ClientAddr string `json:"clientAddr"`
	Language   string `json:"language"`
	Version    int    `json:"version"`
}

func printConnections(e *env, conns []connection) error {
	sort.Slice(conns, func(i, j int) bool { return conns[i].ClientID < conns[j].ClientID })
	var b strings.Builder
	for i, c := range conns {
		fmt.Fprintf(&b, "%04d  %-32s %-22s %-8s %d\n", i+1, c.ClientID, c.ClientAddr, c.Language, c.Version)
	}
	_, err := fmt.Fprint(e.stdout, b.String())
	return err
}

func runConsumerConnection(ctx context.Context, e *env, args []string) error {
	var group string
	return brokerCmd(ctx, e, args, "consumerConnection", "consumerConnection -g group [-b host:port]", func(f *flagSet) {
		f.StringVar(&group, "g", "", "consumer group")
	}, func(a *admin) error {
		if group == "" {
			return usagef("give the group with -g")
		}
		resp, err := a.call(ctx, remoting.GetConsumerConnectionList, map[string]string{"consumerGroup": group}, nil)
		if err != nil {
			return err
		}
		var cc struct {
			ConnectionSet     []connection               `json:"connectionSet"`
			SubscriptionTable map[string]json.RawMessage `json:"subscriptionTable"`
			ConsumeType       string                     `json:"consumeType"`
			MessageModel      string                     `json:"messageModel"`
			ConsumeFromWhere  string                     `json:"consumeFromWhere"`
		}
		if err := remoting.UnmarshalLenient(resp.Body, &cc); err != nil {
			return fmt.Errorf("decode ConsumerConnection from %s: %w", a.addr, err)
		}
		if err := printConnections(e, cc.ConnectionSet); err != nil {
			return err
		}
		var b strings.Builder
		b.WriteString("\nBelow is subscription:\n")
		topics := make([]string, 0, len(cc.SubscriptionTable))
		for t := range cc.SubscriptionTable {
			topics = append(topics, t)
		}
		sort.Strings(topics)
		for i, t := range topics {
			var sd struct {
				SubString string `json:"subString"`
			}
			_ = json.Unmarshal(cc.SubscriptionTable[t], &sd)
			fmt.Fprintf(&b, "%03d  Topic: %-40s SubExpression: %s\n", i+1, t, sd.SubString)
		}
		fmt.Fprintf(&b, "\nConsumeType: %s\nMessageModel: %s\nConsumeFromWhere: %s\n", cc.ConsumeType, cc.MessageModel, cc.ConsumeFromWhere)
		_, err = fmt.Fprint(e.stdout, b.String())
		return err
	})
}

func runProducerConnection(ctx context.Context, e *env, args []string) error {
	var group string
	return brokerCmd(ctx, e, args, "producerConnection", "producerConnection -g group [-b host:port]", func(f *flagSet) {
		f.StringVar(&group, "g", "", "producer group")
	}, func(a *admin) error {
		if group == "" {
			return usagef("give the group with -g")
		}
		resp, err := a.call(ctx, remoting.GetProducerConnectionList, map[string]string{"producerGroup": group}, nil)
		if err != nil {
			return err
		}
		var pc struct {
			ConnectionSet []connection `json:"connectionSet"`
		}
		if err := remoting.UnmarshalLenient(resp.Body, &pc); err != nil {
			return fmt.Errorf("decode ProducerConnection from %s: %w", a.addr, err)
		}
		return printConnections(e, pc.ConnectionSet)
	})
}

// namesrvFlags parse -n and -timeout for the name-server commands.
func namesrvCmd(e *env, args []string, name, synopsis string) ([]string, *brokerFlags, error) {
	var addrs string
	// The broker flags minus -b: the timeout, TLS and credentials, for the
	// name servers and for the brokers they list.
	bf := &brokerFlags{}
	fs := newFlags(e, name, synopsis)
	fs.StringVar(&addrs, "n", defaultNamesrv, "name server address list, host:port;host:port")
	bf.registerClient(fs)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if len(rest) > 0 {
		return nil, nil, usagef("unexpected argument %q", rest[0])
	}
	return splitAddrs(addrs), bf, nil
}

// runClusterList is mqadmin clusterList: every broker with its TPS in and
// out (the 10 s windows of putTps and getTransferedTps, with the send and
// pull queues' size and head wait), page-cache lock time, hours of
// messages stored and disk use.
func runClusterList(ctx context.Context, e *env, args []string) error {
	addrs, bf, err := namesrvCmd(e, args, "clusterList", "clusterList [-n host:port[;host:port]]")
	if err != nil {
		return err
	}
	timeout := bf.timeout
	info, _, err := fetchClusterInfo(ctx, addrs, timeout, &bf.tls)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s  %-22s  %-4s  %-22s %-16s %19s %19s %10s %5s %6s\n",
		"#Cluster Name", "#Broker Name", "#BID", "#Addr", "#Version", "#InTPS(LOAD)", "#OutTPS(LOAD)", "#PCWait(ms)", "#Hour", "#SPACE")
	first := func(s string) float64 {
		f, _ := strconv.ParseFloat(strings.Fields(s + " 0")[0], 64)
		return f
	}
	clusters := make([]string, 0, len(info.ClusterAddrTable))
	for c := range info.ClusterAddrTable {
		clusters = append(clusters, c)
	}
	sort.Strings(clusters)
	for _, cluster := range clusters {
		names := append([]string(nil), info.ClusterAddrTable[cluster]...)
		sort.Strings(names)
		for _, name := range names {
			bd := info.BrokerAddrTable[name]
			ids := make([]string, 0, len(bd.BrokerAddrs))
			for id := range bd.BrokerAddrs {
				ids = append(ids, id)
			}
			sortNumeric(ids)
			for _, id := range ids {
				addr := bd.BrokerAddrs[id]
				version, in, out, pcWait, hour, space := "", "", "", "", "", ""
				a, err := dialAdmin(ctx, "broker", addr, timeout, &bf.tls, bf.credentials())
				if err == nil {
					t, err2 := runtimeInfo(ctx, a)
					a.Close()
					err = err2
					if err == nil {
						version = t["brokerVersionDesc"]
						in = fmt.Sprintf("%9.2f(%s,%sms)", first(t["putTps"]), t["sendThreadPoolQueueSize"], t["sendThreadPoolQueueHeadWaitTimeMills"])
						out = fmt.Sprintf("%9.2f(%s,%sms)", first(t["getTransferedTps"]), t["pullThreadPoolQueueSize"], t["pullThreadPoolQueueHeadWaitTimeMills"])
						pcWait = t["pageCacheLockTimeMills"]
						if ts, err := strconv.ParseInt(t["earliestMessageTimeStamp"], 10, 64); err == nil && ts > 0 {
							hour = fmt.Sprintf("%2.2f", float64(time.Now().UnixMilli()-ts)/3600/1000)
						}
						if r, err := strconv.ParseFloat(t["commitLogDiskRatio"], 64); err == nil {
							space = fmt.Sprintf("%.4f", r)
						}
					}
				}
				if err != nil {
					version = "unreachable"
					fmt.Fprintf(e.stderr, "sluicectl: %s\n", oneLine(err.Error()))
				}
				fmt.Fprintf(&b, "%-16s  %-22s  %-4s  %-22s %-16s %19s %19s %10s %5s %6s\n", cluster, name, id, addr, version, in, out, pcWait, hour, space)
			}
		}
	}
	_, err = fmt.Fprint(e.stdout, b.String())
	return err
}

// runTopicList is mqadmin topicList: every topic the name server routes.
func runTopicList(ctx context.Context, e *env, args []string) error {
	addrs, bf, err := namesrvCmd(e, args, "topicList", "topicList [-n host:port[;host:port]]")
	if err != nil {
		return err
	}
	var lastErr error = usagef("-n names no name server")
	for _, addr := range addrs {
		a, err := dialAdmin(ctx, "name server", addr, bf.timeout, &bf.tls, bf.credentials())
		if err != nil {
			lastErr = err
			continue
		}
		resp, err := a.call(ctx, remoting.GetAllTopicListFromNameServer, nil, nil)
		a.Close()
		if err != nil {
			lastErr = err
			continue
		}
		var tl struct {
			TopicList []string `json:"topicList"`
		}
		if err := remoting.UnmarshalLenient(resp.Body, &tl); err != nil {
			return fmt.Errorf("decode topic list from %s: %w", addr, err)
		}
		sort.Strings(tl.TopicList)
		_, err = fmt.Fprintln(e.stdout, strings.Join(tl.TopicList, "\n"))
		return err
	}
	return lastErr
}
