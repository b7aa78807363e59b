package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-mq/sluice/actors/tree"
)

// Terminal control for redrawing in place.
const (
	termHome       = "\x1b[H"
	termClearAll   = "\x1b[2J"
	termClearLine  = "\x1b[K"
	termClearBelow = "\x1b[J"
	termHideCursor = "\x1b[?25l"
	termShowCursor = "\x1b[?25h"
)

// watchTree draws a frame every interval until ctx ends (SIGINT) or
// --count frames have been drawn. On a terminal each frame overwrites the
// last; piped, frames follow one another separated by a blank line, so a
// log of a watch reads like a series of `sluicectl tree` runs.
//
// A broker that cannot be reached at the start is an error, as for a
// single snapshot. One that goes away later is shown in the frame and
// reconnected to on the next tick: a watch is most useful exactly when
// the broker is struggling.
func watchTree(ctx context.Context, e *env, f *treeFlags, opts renderOptions) error {
	a, err := dialAdmin(ctx, "broker", f.broker.addr, f.broker.timeout, &f.broker.tls, f.broker.credentials())
	if err != nil {
		return err
	}
	defer func() {
		if a != nil {
			a.Close()
		}
	}()
	if e.tty && !f.json {
		fmt.Fprint(e.stdout, termHideCursor+termClearAll)
		defer fmt.Fprint(e.stdout, termShowCursor)
	}
	ticker := time.NewTicker(f.interval)
	defer ticker.Stop()
	var prev *tree.Snapshot
	for frame := 1; ; frame++ {
		snap, raw, err := fetchFrame(ctx, &a, f)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && frame == 1:
			return err
		case err != nil && f.json:
			// Keep stdout a stream of snapshots.
			fmt.Fprintf(e.stderr, "sluicectl: %s (retrying every %s)\n", oneLine(err.Error()), f.interval)
		case err != nil:
			drawFrame(e, fmt.Sprintf("sluicectl: %s (retrying every %s)\n", oneLine(err.Error()), f.interval), frame)
		case f.json:
			fmt.Fprintf(e.stdout, "%s\n", compactJSON(raw))
		default:
			o := opts
			o.prev = prev
			if e.tty {
				o.footer = fmt.Sprintf("every %s; Ctrl-C to quit", f.interval)
			}
			drawFrame(e, renderTree(snap, o), frame)
			prev = snap
		}
		if f.count > 0 && frame >= f.count {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// fetchFrame gets one snapshot, reconnecting first if the last connection
// was lost.
func fetchFrame(ctx context.Context, a **admin, f *treeFlags) (*tree.Snapshot, []byte, error) {
	if *a == nil {
		na, err := dialAdmin(ctx, "broker", f.broker.addr, f.broker.timeout, &f.broker.tls, f.broker.credentials())
		if err != nil {
			return nil, nil, err
		}
		*a = na
	}
	snap, raw, err := fetchTree(ctx, *a)
	// An answer, even a refusal, means the connection works; anything
	// else (closed, timed out) gets a fresh connection next time.
	if err != nil && !errors.As(err, new(*answerError)) {
		(*a).Close()
		*a = nil
	}
	return snap, raw, err
}

func drawFrame(e *env, text string, frame int) {
	if !e.tty {
		if frame > 1 {
			text = "\n" + text
		}
		fmt.Fprint(e.stdout, text)
		return
	}
	// Home, then each line cleared to its end, then everything below: no
	// flicker from clearing the whole screen, no leftovers from a longer
	// previous frame.
	// Lines are cut to the terminal's width rather than wrapped: a wrapped
	// line would push the frame down and scroll the top off the screen.
	width := 0
	if e.width != nil {
		width = e.width()
	}
	var b strings.Builder
	b.WriteString(termHome)
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}
		b.WriteString(truncateLine(strings.TrimSuffix(line, "\n"), width))
		b.WriteString(termClearLine)
		if strings.HasSuffix(line, "\n") {
			b.WriteByte('\n')
		}
	}
	b.WriteString(termClearBelow)
	fmt.Fprint(e.stdout, b.String())
}

// compactJSON puts a document on one line, so that a watch with --json
// is a stream of JSON lines.
func compactJSON(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}
