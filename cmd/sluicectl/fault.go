package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sluice-mq/sluice/remoting"
)

// Ext field names of SLUICE_SET_FAULT. A field left out leaves that fault
// as it is, so each subcommand changes one thing.
const (
	faultAppendStall    = "appendStallMillis"
	faultPoolExhausted  = "transientPoolExhausted"
	faultProcessorDelay = "processorDelayMillis"
	faultProcessor      = "processor"
)

const faultSynopsis = "fault stall <ms> | pool-exhausted on|off | processor-delay <ms> [--processor name] | off"

func runFault(ctx context.Context, e *env, args []string) error {
	var bf brokerFlags
	var processor string
	fs := newFlags(e, "fault", faultSynopsis+" [-b host:port]")
	bf.register(fs)
	fs.StringVar(&processor, "processor", "", "with processor-delay: the processor to slow (send, pull, …); all when empty")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	ext, err := faultFields(rest, processor)
	if err != nil {
		return err
	}
	return withBroker(ctx, &bf, func(a *admin) error {
		resp, err := a.invoke(ctx, remoting.SetFault, ext, nil)
		if err != nil {
			return err
		}
		switch resp.ResponseCode() {
		case remoting.Success:
		case remoting.SystemError:
			// Typically a broker started without faultInjectionEnable=true.
			return fmt.Errorf("broker %s refused fault injection: %s", a.addr, resp.Remark)
		default:
			return a.answerErr(remoting.SetFault, resp)
		}
		state := resp.Remark
		if state == "" {
			state = "ok"
		}
		_, err = fmt.Fprintln(e.stdout, state)
		return err
	})
}

// faultFields turns the positional arguments into SLUICE_SET_FAULT's ext
// fields.
func faultFields(args []string, processor string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, usagef("missing fault; usage: sluicectl %s", faultSynopsis)
	}
	want := func(n int) error {
		if len(args) != n {
			return usagef("%s takes %d argument(s); usage: sluicectl %s", args[0], n-1, faultSynopsis)
		}
		return nil
	}
	if processor != "" && args[0] != "processor-delay" {
		return nil, usagef("--processor goes with processor-delay only")
	}
	switch args[0] {
	case "stall":
		if err := want(2); err != nil {
			return nil, err
		}
		ms, err := parseMillis(args[1])
		if err != nil {
			return nil, err
		}
		return map[string]string{faultAppendStall: ms}, nil
	case "pool-exhausted":
		if err := want(2); err != nil {
			return nil, err
		}
		switch args[1] {
		case "on":
			return map[string]string{faultPoolExhausted: "true"}, nil
		case "off":
			return map[string]string{faultPoolExhausted: "false"}, nil
		}
		return nil, usagef("pool-exhausted takes on or off, not %q", args[1])
	case "processor-delay":
		if err := want(2); err != nil {
			return nil, err
		}
		ms, err := parseMillis(args[1])
		if err != nil {
			return nil, err
		}
		ext := map[string]string{faultProcessorDelay: ms}
		if processor != "" {
			ext[faultProcessor] = processor
		}
		return ext, nil
	case "off":
		if err := want(1); err != nil {
			return nil, err
		}
		return map[string]string{faultAppendStall: "0", faultPoolExhausted: "false", faultProcessorDelay: "0"}, nil
	}
	return nil, usagef("unknown fault %q; usage: sluicectl %s", args[0], faultSynopsis)
}

func parseMillis(s string) (string, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return "", usagef("%q is not a number of milliseconds", s)
	}
	return strconv.FormatInt(n, 10), nil
}
