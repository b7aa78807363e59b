package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sluice-mq/sluice/remoting"
)

// kvTable is RocketMQ's KVTable, the body of GET_BROKER_RUNTIME_INFO.
type kvTable struct {
	Table map[string]string `json:"table"`
}

func runStatus(ctx context.Context, e *env, args []string) error {
	var bf brokerFlags
	var asJSON bool
	fs := newFlags(e, "status", "status [-b host:port] [--json]")
	bf.register(fs)
	fs.BoolVar(&asJSON, "json", false, "print the table as one JSON object")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	return withBroker(ctx, &bf, func(a *admin) error {
		table, err := runtimeInfo(ctx, a)
		if err != nil {
			return err
		}
		if asJSON {
			out, err := json.MarshalIndent(table, "", "  ")
			if err != nil {
				return fmt.Errorf("encode runtime info: %w", err)
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", out)
			return err
		}
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(table)) {
			fmt.Fprintf(&b, "%s: %s\n", k, table[k])
		}
		_, err = fmt.Fprint(e.stdout, b.String())
		return err
	})
}

func runtimeInfo(ctx context.Context, a *admin) (map[string]string, error) {
	resp, err := a.call(ctx, remoting.GetBrokerRuntimeInfo, nil, nil)
	if err != nil {
		return nil, err
	}
	var kv kvTable
	if err := json.Unmarshal(resp.Body, &kv); err != nil {
		return nil, fmt.Errorf("decode runtime info from %s: %w", a.addr, err)
	}
	if kv.Table == nil {
		kv.Table = map[string]string{}
	}
	return kv.Table, nil
}
