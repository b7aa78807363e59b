package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// runReplication shows each broker group's master and slaves (mqadmin
// clusterList's per-brokerId rows) with their commit-log max offsets
// (GET_BROKER_RUNTIME_INFO's commitLogMaxOffset) and how many bytes each
// slave is behind its master. Runtime keys starting with "ha" (what the
// HA service reports, such as the slave's acknowledged offset) are shown
// as they are; a broker without them, or one not answering, still gets
// its row.
func runReplication(ctx context.Context, e *env, args []string) error {
	addrs, bf, err := namesrvCmd(e, args, "replication", "replication [-n host:port[;host:port]]")
	if err != nil {
		return err
	}
	info, _, err := fetchClusterInfo(ctx, addrs, bf.timeout, &bf.tls)
	if err != nil {
		return err
	}
	t := &table{}
	t.add(row{cells: []cell{plain("#Cluster"), plain("#Broker"), plain("#BID"), plain("#Role"), plain("#Addr"),
		plain("#MaxOffset"), plain("#BehindMaster"), plain("#HA")}})
	names := make([]string, 0, len(info.BrokerAddrTable))
	for name := range info.BrokerAddrTable {
		names = append(names, name)
	}
	sortNumeric(names)
	for _, name := range names {
		bd := info.BrokerAddrTable[name]
		ids := make([]string, 0, len(bd.BrokerAddrs))
		for id := range bd.BrokerAddrs {
			ids = append(ids, id)
		}
		sortNumeric(ids)
		type state struct {
			max int64
			ok  bool
			ha  string
		}
		states := map[string]state{}
		for _, id := range ids {
			addr := bd.BrokerAddrs[id]
			a, err := dialAdmin(ctx, "broker", addr, bf.timeout, &bf.tls, bf.credentials())
			if err == nil {
				var rt map[string]string
				rt, err = runtimeInfo(ctx, a)
				a.Close()
				if err == nil {
					st := state{}
					st.max, err = strconv.ParseInt(rt["commitLogMaxOffset"], 10, 64)
					st.ok = err == nil
					var ha []string
					for k, v := range rt {
						if strings.HasPrefix(k, "ha") {
							ha = append(ha, k+"="+v)
						}
					}
					slices.Sort(ha)
					st.ha = strings.Join(ha, " ")
					states[id] = st
					err = nil
				}
			}
			if err != nil {
				fmt.Fprintf(e.stderr, "sluicectl: %s\n", oneLine(err.Error()))
			}
		}
		master, hasMaster := states["0"]
		for _, id := range ids {
			st, reachable := states[id]
			role, maxOff, behind, ha := "SLAVE", "unreachable", "-", st.ha
			if id == "0" {
				role = "MASTER"
			}
			if reachable && st.ok {
				maxOff = strconv.FormatInt(st.max, 10)
			}
			switch {
			case id == "0":
			case !hasMaster:
				behind = "(no master)"
			case reachable && st.ok && master.ok:
				behind = strconv.FormatInt(max(master.max-st.max, 0), 10)
			}
			if ha == "" {
				ha = "-"
			}
			t.add(row{cells: []cell{plain(bd.Cluster), plain(name), plain(id), plain(role), plain(bd.BrokerAddrs[id]),
				plain(maxOff), plain(behind), plain(ha)}})
		}
	}
	if len(t.rows) == 1 {
		_, err := fmt.Fprintln(e.stdout, "no brokers registered")
		return err
	}
	var b strings.Builder
	t.render(&b)
	_, err = fmt.Fprint(e.stdout, b.String())
	return err
}
