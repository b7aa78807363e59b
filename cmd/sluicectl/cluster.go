package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/tlshelper"
)

// clusterInfo is the body of GET_BROKER_CLUSTER_INFO (ClusterInfo.java).
type clusterInfo struct {
	BrokerAddrTable  map[string]brokerData `json:"brokerAddrTable"`
	ClusterAddrTable map[string][]string   `json:"clusterAddrTable"`
}

type brokerData struct {
	Cluster     string            `json:"cluster"`
	BrokerName  string            `json:"brokerName"`
	BrokerAddrs map[string]string `json:"brokerAddrs"` // broker id (0 = master) → host:port
}

func runCluster(ctx context.Context, e *env, args []string) error {
	var addrs string
	var timeout time.Duration
	var asJSON bool
	var tf tlshelper.ClientFlags
	fs := newFlags(e, "cluster", "cluster [-n host:port[;host:port]] [--json] [--tls …]")
	tf.Register(fs)
	fs.StringVar(&addrs, "n", defaultNamesrv, "name server address list, host:port;host:port (the first that answers is used)")
	fs.DurationVar(&timeout, "timeout", defaultTimeout, "how long to wait for each answer")
	fs.BoolVar(&asJSON, "json", false, "print GET_BROKER_CLUSTER_INFO's body as JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	info, raw, err := fetchClusterInfo(ctx, splitAddrs(addrs), timeout, &tf)
	if err != nil {
		return err
	}
	if asJSON {
		return writeIndented(e, raw)
	}
	_, err = fmt.Fprint(e.stdout, renderCluster(info))
	return err
}

// fetchClusterInfo asks each name server in turn until one answers, as
// RocketMQ clients do.
func fetchClusterInfo(ctx context.Context, addrs []string, timeout time.Duration, tf *tlshelper.ClientFlags) (*clusterInfo, []byte, error) {
	if len(addrs) == 0 {
		return nil, nil, usagef("-n names no name server")
	}
	var lastErr error
	for _, addr := range addrs {
		a, err := dialAdmin(ctx, "name server", addr, timeout, tf, nil)
		if err != nil {
			lastErr = err
			continue
		}
		resp, err := a.call(ctx, remoting.GetBrokerClusterInfo, nil, nil)
		a.Close()
		if err != nil {
			lastErr = err
			continue
		}
		var info clusterInfo
		if err := remoting.UnmarshalLenient(resp.Body, &info); err != nil {
			return nil, nil, fmt.Errorf("decode cluster info from %s: %w", addr, err)
		}
		raw := resp.Body
		if !json.Valid(raw) {
			// Java's dialect with bare integer keys: print what we read.
			raw, _ = json.Marshal(&info)
		}
		return &info, raw, nil
	}
	return nil, nil, lastErr
}

func renderCluster(info *clusterInfo) string {
	t := &table{}
	t.add(row{cells: []cell{plain("CLUSTER"), plain("BROKER"), plain("ID"), plain("ADDRESS")}})
	listed := map[string]bool{}
	add := func(cluster, name string) {
		bd, ok := info.BrokerAddrTable[name]
		listed[name] = true
		if !ok || len(bd.BrokerAddrs) == 0 {
			t.add(row{cells: []cell{plain(cluster), plain(name), plain("-"), plain("(no address registered)")}})
			return
		}
		ids := make([]string, 0, len(bd.BrokerAddrs))
		for id := range bd.BrokerAddrs {
			ids = append(ids, id)
		}
		sortNumeric(ids)
		for _, id := range ids {
			t.add(row{cells: []cell{plain(cluster), plain(name), plain(id), plain(bd.BrokerAddrs[id])}})
		}
	}
	for _, cluster := range slices.Sorted(maps.Keys(info.ClusterAddrTable)) {
		names := append([]string(nil), info.ClusterAddrTable[cluster]...)
		sortNumeric(names)
		for _, name := range names {
			add(cluster, name)
		}
	}
	// Brokers known by address but in no cluster list still deserve a line.
	for _, name := range slices.Sorted(maps.Keys(info.BrokerAddrTable)) {
		if !listed[name] {
			add(info.BrokerAddrTable[name].Cluster, name)
		}
	}
	var b strings.Builder
	if len(t.rows) == 1 {
		return "no brokers registered\n"
	}
	t.render(&b)
	return b.String()
}

func sortNumeric(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && naturalLess(s[j], s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// splitAddrs splits RocketMQ's "host:port;host:port" list.
func splitAddrs(list string) []string {
	var out []string
	for _, a := range strings.Split(list, ";") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
