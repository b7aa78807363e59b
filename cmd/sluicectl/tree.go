package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
)

type treeFlags struct {
	broker   brokerFlags
	json     bool
	watch    bool
	interval time.Duration
	count    int
	color    string
	maxConns int
}

func runTree(ctx context.Context, e *env, args []string) error {
	var f treeFlags
	fs := newFlags(e, "tree", "tree [-b host:port] [--watch [--interval 1s] [--count N]] [--json]")
	f.broker.register(fs)
	fs.BoolVar(&f.json, "json", false, "print the snapshot as JSON (one document; one line per frame with --watch)")
	fs.BoolVar(&f.watch, "watch", false, "redraw every --interval until interrupted, like top")
	fs.DurationVar(&f.interval, "interval", time.Second, "time between frames with --watch")
	fs.IntVar(&f.count, "count", 0, "with --watch, stop after this many frames (0: until interrupted)")
	fs.StringVar(&f.color, "color", "auto", "colour: auto (on a terminal), always, never")
	fs.IntVar(&f.maxConns, "max-conns", 20, "connections to list before summarising the rest (0: all)")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if f.interval <= 0 {
		return usagef("--interval must be positive")
	}
	if f.count < 0 || f.maxConns < 0 {
		return usagef("--count and --max-conns must not be negative")
	}
	color, err := useColor(f.color, e.tty)
	if err != nil {
		return err
	}
	opts := renderOptions{color: color, maxConns: f.maxConns}
	if f.watch {
		return watchTree(ctx, e, &f, opts)
	}
	return withBroker(ctx, &f.broker, func(a *admin) error {
		snap, raw, err := fetchTree(ctx, a)
		if err != nil {
			return err
		}
		if f.json {
			return writeIndented(e, raw)
		}
		_, err = fmt.Fprint(e.stdout, renderTree(snap, opts))
		return err
	})
}

// fetchTree asks for SLUICE_GET_ACTOR_TREE and returns the snapshot with
// the body it came in: --json prints the body, so fields this sluicectl
// does not know yet still reach scripts.
func fetchTree(ctx context.Context, a *admin) (*tree.Snapshot, []byte, error) {
	resp, err := a.call(ctx, remoting.GetActorTree, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	var snap tree.Snapshot
	if err := json.Unmarshal(resp.Body, &snap); err != nil {
		return nil, nil, fmt.Errorf("decode actor tree from %s: %w", a.addr, err)
	}
	if snap.Root == nil {
		return nil, nil, fmt.Errorf("actor tree from %s has no root", a.addr)
	}
	return &snap, resp.Body, nil
}

func writeIndented(e *env, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("indent JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := e.stdout.Write(buf.Bytes())
	return err
}

func useColor(mode string, tty bool) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		// https://no-color.org: any non-empty NO_COLOR turns colour off.
		return tty && getenv("NO_COLOR") == "", nil
	}
	return false, usagef("--color must be auto, always or never, not %q", mode)
}

type renderOptions struct {
	color    bool
	maxConns int
	// prev is the previous frame of a watch, for per-second rates and for
	// highlighting busy counts that grew; nil for a single snapshot.
	prev *tree.Snapshot
	// footer is appended under the table (the watch's hint line).
	footer string
}

// renderTree draws the snapshot as a tree of actors with one table row
// each and detail lines under the writer and the supervisor.
func renderTree(s *tree.Snapshot, o renderOptions) string {
	var b strings.Builder
	t := &table{color: o.color}
	header := fmt.Sprintf("broker %s  %s  %s", s.BrokerName, s.Addr, s.TakenAt.Format("2006-01-02 15:04:05.000"))
	b.WriteString(t.paint(colBold, header))
	b.WriteString("\n\n")

	r := &treeRenderer{t: t, o: o, s: s, prev: map[string]*tree.Node{}}
	if o.prev != nil && o.prev.Root != nil {
		r.dt = s.TakenAt.Sub(o.prev.TakenAt).Seconds()
		o.prev.Root.Walk(func(n *tree.Node, _ int) { r.prev[n.ID] = n })
	}
	t.add(row{cells: []cell{
		{"ACTOR", colBold}, {"KIND", colBold}, {"QUEUE", colBold}, {"OLDEST", colBold},
		{"PROCESSED", colBold}, {"RATE/s", colBold}, {"BUSY", colBold},
	}})
	r.node(s.Root, "", "", true)
	t.render(&b)
	if o.footer != "" {
		b.WriteString("\n")
		b.WriteString(t.paint(colDim, o.footer))
		b.WriteString("\n")
	}
	return b.String()
}

type treeRenderer struct {
	t    *table
	o    renderOptions
	s    *tree.Snapshot
	prev map[string]*tree.Node
	dt   float64 // seconds since the previous frame; 0 without one
}

// node adds n and its subtree. lead is the branch drawn before n's name,
// indent what goes before anything drawn under n.
func (r *treeRenderer) node(n *tree.Node, lead, indent string, root bool) {
	name := lead + n.Name
	kind := cell{n.Kind, colCyan}
	blank := plain("")
	// Detail lines sit under the node's name, with the line down to its
	// children drawn through them.
	details := indent + "  "
	if len(n.Children) > 0 {
		details = indent + "│ "
	}
	switch {
	case n.Processor != nil:
		p := n.Processor
		var prevProcessed *uint64
		if old := r.prev[n.ID]; old != nil && old.Processor != nil {
			prevProcessed = &old.Processor.Processed
		}
		tail := blank
		if p.Panics > 0 {
			tail = cell{fmt.Sprintf("panics %d", p.Panics), colRed}
		}
		r.t.add(row{cells: []cell{
			plain(name), kind,
			depthCell(p.Depth, p.Capacity), waitCell(p.OldestWaitMillis, p.MaxWaitMillis),
			plain(strconv.FormatUint(p.Processed, 10)), r.rate(p.Processed, prevProcessed),
			r.busyCell(n, p.Busy),
		}, tail: tail})
	case n.Writer != nil:
		w := n.Writer
		var prevAppended *uint64
		if old := r.prev[n.ID]; old != nil && old.Writer != nil {
			prevAppended = &old.Writer.Appended
		}
		r.t.add(row{cells: []cell{
			plain(name), kind, plain(strconv.Itoa(w.Depth)), blank,
			plain(strconv.FormatUint(w.Appended, 10)), r.rate(w.Appended, prevAppended), blank,
		}})
		r.writerDetails(details, w)
	case n.Connection != nil:
		r.t.add(row{cells: []cell{plain(name), kind}, tail: plain(connectionSummary(n.Connection))})
	case n.Supervisor != nil:
		r.t.add(row{cells: []cell{plain(name), kind}})
		r.supervisorDetails(details, n.Supervisor)
	case n.Transaction != nil:
		r.t.add(row{cells: []cell{plain(name), kind}, tail: plain(fmt.Sprintf("%d half messages pending", n.Transaction.HalfPending))})
		r.transactionDetails(details, n.Transaction)
	case n.Schedule != nil:
		var waiting int64
		for _, lv := range n.Schedule.Levels {
			waiting += lv.Waiting
		}
		r.t.add(row{cells: []cell{plain(name), kind}, tail: plain(fmt.Sprintf("%d delayed messages waiting", waiting))})
		r.scheduleDetails(details, n.Schedule)
	case n.Timer != nil:
		r.t.add(row{cells: []cell{plain(name), kind}, tail: plain(fmt.Sprintf("%d timer messages pending", n.Timer.Pending))})
		r.timerDetails(details, n.Timer)
	case n.HA != nil:
		r.t.add(row{cells: []cell{plain(name), kind}, tail: haSummary(n.HA)})
	case n.Kind == tree.KindListener:
		conns := 0
		for _, c := range n.Children {
			if c.Kind == tree.KindConnection {
				conns++
			}
		}
		r.t.add(row{cells: []cell{plain(name), kind}, tail: plain(plural(conns, "connection"))})
	default:
		r.t.add(row{cells: []cell{plain(name), kind}})
	}

	children := displayOrder(n.Children)
	shown, hidden := children, 0
	if r.o.maxConns > 0 {
		shown, hidden = limitConnections(children, r.o.maxConns)
	}
	for i, c := range shown {
		last := i == len(shown)-1 && hidden == 0
		branch, next := "├─ ", "│  "
		if last {
			branch, next = "└─ ", "   "
		}
		r.node(c, indent+branch, indent+next, false)
	}
	if hidden > 0 {
		r.t.add(row{raw: true, cells: []cell{{indent + "└─ … " + plural(hidden, "more connection"), colDim}}})
	}
}

func (r *treeRenderer) writerDetails(indent string, w *tree.WriterInfo) {
	holdColor := ""
	if w.OSPageCacheBusyTimeOutMills > 0 {
		switch {
		case w.LockHoldMillis > w.OSPageCacheBusyTimeOutMills:
			holdColor = colRed
		case w.LockHoldMillis*2 > w.OSPageCacheBusyTimeOutMills:
			holdColor = colYellow
		}
	}
	busy := cell{"page cache ok", colGreen}
	if w.PageCacheBusy {
		busy = cell{"PAGE CACHE BUSY", colRed}
	}
	r.detail(indent,
		plain("lock held "), cell{millis(w.LockHoldMillis), holdColor},
		plain(fmt.Sprintf(" (busy over %s)  beginTimeInLock %d  ", millis(w.OSPageCacheBusyTimeOutMills), w.BeginTimeInLock)),
		busy)
	if len(w.LockHold) > 0 {
		var items []cell
		var prevBound int64
		for _, bk := range w.LockHold {
			label := "≤" + millis(bk.LeMillis)
			if bk.LeMillis < 0 {
				label = ">" + millis(prevBound)
			}
			prevBound = bk.LeMillis
			c := plain(fmt.Sprintf("%s %d", label, bk.Count))
			// Holds past the busy threshold are the ones that refused sends.
			if bk.Count > 0 && w.OSPageCacheBusyTimeOutMills > 0 &&
				(bk.LeMillis < 0 || bk.LeMillis > w.OSPageCacheBusyTimeOutMills) {
				c.color = colRed
			}
			items = append(items, c)
		}
		r.detail(indent, list("lock holds", items)...)
	}
	// Deficient comes first: an injected fault makes even a disabled pool
	// deficient, and then sends are refused all the same.
	switch {
	case w.TransientPoolDeficient && w.TransientPoolEnabled:
		r.detail(indent, cell{fmt.Sprintf("transient store pool %d/%d free: DEFICIENT", w.TransientPoolFree, w.TransientPoolTotal), colRed})
	case w.TransientPoolDeficient:
		r.detail(indent, cell{"transient store pool DEFICIENT", colRed})
	case !w.TransientPoolEnabled:
		r.detail(indent, plain("transient store pool disabled"))
	default:
		r.detail(indent, plain(fmt.Sprintf("transient store pool %d/%d free", w.TransientPoolFree, w.TransientPoolTotal)))
	}
	if w.Batches > 0 {
		r.detail(indent, plain(fmt.Sprintf("%d batches, %.1f messages per batch", w.Batches, float64(w.Appended)/float64(w.Batches))))
	}
}

func (r *treeRenderer) supervisorDetails(indent string, s *tree.SupervisorInfo) {
	if !s.FastFailureEnable {
		r.detail(indent, cell{"fast failure off", colYellow})
	} else {
		last := "never"
		if !s.LastSweep.IsZero() {
			last = millis(max(0, r.s.TakenAt.Sub(s.LastSweep).Milliseconds())) + " ago"
		}
		r.detail(indent, plain(fmt.Sprintf("fast failure on, sweep every %s, last %s", millis(s.SweepPeriodMillis), last)))
	}
	var items []cell
	for _, k := range busyOrder(s.Cleaned) {
		c := plain(fmt.Sprintf("%s %d", k, s.Cleaned[k]))
		if s.Cleaned[k] > 0 {
			c.color = colYellow
		}
		items = append(items, c)
	}
	items = append(items, plain(fmt.Sprintf("busy periods %d", s.BusyPeriods)))
	if s.InBusyPeriod {
		items = append(items, cell{"IN BUSY PERIOD", colRed})
	}
	r.detail(indent, list("cleaned", items)...)
}

// transactionDetails shows the transaction service: decisions, the
// check-back and how far it has got in the half and op queues.
func (r *treeRenderer) transactionDetails(indent string, t *tree.TransactionInfo) {
	warn := func(n uint64, label string) cell {
		c := plain(fmt.Sprintf("%s %d", label, n))
		if n > 0 {
			c.color = colYellow
		}
		return c
	}
	r.detail(indent, list("ended", []cell{
		plain(fmt.Sprintf("commit %d", t.Committed)), plain(fmt.Sprintf("rollback %d", t.RolledBack)),
		plain(fmt.Sprintf("duplicate %d", t.Duplicates)), warn(t.Refused, "refused"), warn(t.StoreFailures, "not stored"),
		plain(fmt.Sprintf("in flight %d", t.InFlight)),
	})...)
	last := "never"
	if !t.LastCheck.IsZero() {
		last = millis(max(0, r.s.TakenAt.Sub(t.LastCheck).Milliseconds())) + " ago"
	}
	r.detail(indent, list("checks", []cell{
		plain(fmt.Sprintf("sent %d", t.ChecksSent)), warn(t.ChecksUnsent, "no producer"), warn(t.Discarded, "discarded"),
		plain(fmt.Sprintf("rounds %d, last %s", t.CheckRounds, last)),
	})...)
	r.detail(indent, plain(fmt.Sprintf("every %s after %s, at most %d times; half queue %d/%d, op queue %d/%d",
		millis(t.CheckIntervalMillis), millis(t.TimeoutMillis), t.CheckMax, t.HalfOffset, t.HalfMaxOffset, t.OpOffset, t.OpMaxOffset)))
}

// scheduleDetails shows the schedule message service: one line per delay
// level with something to say (messages waiting, delivered, held up), the
// idle levels in one line, and the lateness histogram.
func (r *treeRenderer) scheduleDetails(indent string, sc *tree.ScheduleInfo) {
	var idle []int32
	for _, lv := range sc.Levels {
		if lv.Waiting == 0 && lv.Delivered == 0 && lv.Retries == 0 && lv.InFlight == 0 && lv.PassedOver == 0 {
			idle = append(idle, lv.Level)
			continue
		}
		items := []cell{plain(fmt.Sprintf("waiting %d", lv.Waiting))}
		switch {
		case lv.Waiting > 0 && !lv.HeadDue.IsZero() && !lv.HeadDue.After(r.s.TakenAt):
			// Due and not yet delivered: waiting for its pass, or held up.
			over := r.s.TakenAt.Sub(lv.HeadDue).Milliseconds()
			c := plain("overdue " + duration(over))
			if over > 1000 {
				c.color = colYellow
			}
			items = append(items, c)
			if !lv.NextDue.IsZero() {
				items = append(items, plain("next due in "+duration(max(0, lv.NextDue.Sub(r.s.TakenAt).Milliseconds()))))
			}
		case lv.Waiting > 0 && !lv.HeadDue.IsZero():
			items = append(items, plain("next due in "+duration(lv.HeadDue.Sub(r.s.TakenAt).Milliseconds())))
		}
		items = append(items, plain(fmt.Sprintf("delivered %d", lv.Delivered)))
		if !lv.LastDelivery.IsZero() {
			items = append(items, plain("lateness "+duration(lv.LatenessMillis)))
		}
		if lv.InFlight > 0 {
			items = append(items, plain(fmt.Sprintf("in flight %d", lv.InFlight)))
		}
		if lv.BusyBackoffs > 0 {
			items = append(items, cell{fmt.Sprintf("busy back-offs %d", lv.BusyBackoffs), colYellow})
		}
		if failed := lv.Retries - min(lv.Retries, lv.BusyBackoffs); failed > 0 {
			items = append(items, cell{fmt.Sprintf("failed puts %d", failed), colYellow})
		}
		if lv.PassedOver > 0 {
			items = append(items, cell{fmt.Sprintf("passed over %d", lv.PassedOver), colRed})
		}
		items = append(items, plain(fmt.Sprintf("offset %d/%d", lv.Offset, lv.MaxOffset)))
		if lv.RetryAt.After(r.s.TakenAt) && lv.LastError != "" {
			items = append(items, cell{"RETRYING: " + lv.LastError, colRed})
		}
		r.detail(indent, list(fmt.Sprintf("level %d (%s)", lv.Level, levelDelay(lv.DelayMillis)), items)...)
	}
	if len(idle) > 0 {
		r.detail(indent, cell{"idle " + levelRanges(idle), colDim})
	}
	r.latenessDetail(indent, sc.Lateness)
}

// latenessDetail shows a service's lateness histogram (the schedule
// service's, the timer store's): its non-empty buckets.
func (r *treeRenderer) latenessDetail(indent string, lateness []tree.Bucket) {
	var items []cell
	var prevBound int64
	for _, bk := range lateness {
		label := "≤" + duration(bk.LeMillis)
		if bk.LeMillis < 0 {
			label = ">" + duration(prevBound)
		}
		prevBound = bk.LeMillis
		if bk.Count == 0 {
			continue
		}
		c := plain(fmt.Sprintf("%s %d", label, bk.Count))
		// Past a second late: more than the 100 ms pass explains.
		if bk.LeMillis < 0 || bk.LeMillis > 1000 {
			c.color = colYellow
		}
		items = append(items, c)
	}
	if len(items) == 0 {
		r.detail(indent, plain("lateness: nothing delivered yet"))
	} else {
		r.detail(indent, list("lateness", items)...)
	}
}

// timerDetails shows the timer message store in two lines — what is
// pending and how delivery goes, then indexing, rates and the timer log —
// and the lateness histogram.
func (r *treeRenderer) timerDetails(indent string, ti *tree.TimerInfo) {
	var items []cell
	if ti.Pending > 0 && !ti.OldestDue.IsZero() {
		count := fmt.Sprintf(" (%d due then)", ti.OldestDueCount)
		if ti.OldestDue.After(r.s.TakenAt) {
			items = append(items, plain("oldest due in "+duration(ti.OldestDue.Sub(r.s.TakenAt).Milliseconds())+count))
		} else {
			// Due and not yet delivered: waiting for its pass, or held up.
			over := r.s.TakenAt.Sub(ti.OldestDue).Milliseconds()
			c := plain("overdue " + duration(over) + count)
			if over > 1000 {
				c.color = colYellow
			}
			items = append(items, c)
		}
	}
	if ti.Behind > 0 {
		items = append(items, cell{fmt.Sprintf("not yet indexed %d", ti.Behind), colYellow})
	}
	items = append(items, plain(fmt.Sprintf("delivered %d", ti.Delivered)))
	if !ti.LastDelivery.IsZero() {
		items = append(items, plain("lateness "+duration(ti.LatenessMillis)))
	}
	if ti.InFlight > 0 {
		items = append(items, plain(fmt.Sprintf("in flight %d", ti.InFlight)))
	}
	if ti.Rolled > 0 {
		items = append(items, plain(fmt.Sprintf("rolled %d", ti.Rolled)))
	}
	if ti.BusyBackoffs > 0 {
		items = append(items, cell{fmt.Sprintf("busy back-offs %d", ti.BusyBackoffs), colYellow})
	}
	if failed := ti.Retries - min(ti.Retries, ti.BusyBackoffs); failed > 0 {
		items = append(items, cell{fmt.Sprintf("failures %d", failed), colYellow})
	}
	if ti.PassedOver > 0 {
		items = append(items, cell{fmt.Sprintf("passed over %d", ti.PassedOver), colRed})
	}
	if ti.RetryAt.After(r.s.TakenAt) && ti.LastError != "" {
		items = append(items, cell{"RETRYING: " + ti.LastError, colRed})
	}
	r.detail(indent, list(fmt.Sprintf("pending %d", ti.Pending), items)...)

	readBehind := "read time now"
	if !ti.ReadTime.IsZero() && r.s.TakenAt.After(ti.ReadTime) {
		readBehind = "read time " + duration(r.s.TakenAt.Sub(ti.ReadTime).Milliseconds()) + " behind"
	}
	checkpoint := "checkpoint never"
	if !ti.Checkpoint.IsZero() {
		checkpoint = "checkpoint " + duration(max(0, r.s.TakenAt.Sub(ti.Checkpoint).Milliseconds())) + " ago"
	}
	r.detail(indent, list(fmt.Sprintf("enqueued %d", ti.Enqueued), []cell{
		plain(fmt.Sprintf("in %.0f/s  out %.0f/s", ti.EnqueueTps, ti.DequeueTps)),
		plain(readBehind), plain(fmt.Sprintf("queue %d/%d", ti.QueueOffset, ti.MaxQueueOffset)),
		plain("timer log " + byteSize(ti.DiskBytes)), plain(checkpoint),
		plain("precision " + millis(ti.PrecisionMs)),
	})...)
	r.latenessDetail(indent, ti.Lateness)
}

// byteSize writes n as 512 B, 56.3 KiB, 1.2 GiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// levelDelay writes a level's delay as messageDelayLevel does (1s, 5m, 2h).
func levelDelay(ms int64) string {
	switch {
	case ms > 0 && ms%3_600_000 == 0:
		return strconv.FormatInt(ms/3_600_000, 10) + "h"
	case ms > 0 && ms%60_000 == 0:
		return strconv.FormatInt(ms/60_000, 10) + "m"
	case ms > 0 && ms%1000 == 0:
		return strconv.FormatInt(ms/1000, 10) + "s"
	}
	return millis(ms)
}

// duration writes ms as 250ms under a second, else 1.5s, 2m30s, 1m.
func duration(ms int64) string {
	if ms < 1000 {
		return millis(ms)
	}
	d := (time.Duration(ms) * time.Millisecond).Round(100 * time.Millisecond).String()
	if strings.HasSuffix(d, "m0s") {
		d = strings.TrimSuffix(d, "0s")
	}
	return d
}

// levelRanges writes sorted levels as "levels 1, 4–18".
func levelRanges(levels []int32) string {
	var parts []string
	for i := 0; i < len(levels); {
		j := i
		for j+1 < len(levels) && levels[j+1] == levels[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d–%d", levels[i], levels[j]))
		} else {
			parts = append(parts, strconv.Itoa(int(levels[i])))
		}
		i = j + 1
	}
	word := "levels "
	if len(levels) == 1 {
		word = "level "
	}
	return word + strings.Join(parts, ", ")
}

func (r *treeRenderer) detail(indent string, parts ...cell) {
	r.t.add(row{raw: true, cells: append([]cell{{indent, colDim}}, parts...)})
}

// list is label followed by items, two spaces apart.
func list(label string, items []cell) []cell {
	out := []cell{plain(label)}
	for i, it := range items {
		sep := "  "
		if i == 0 {
			sep = " "
		}
		out = append(out, plain(sep), it)
	}
	return out
}

// rate is the per-second growth of a counter since the previous frame.
func (r *treeRenderer) rate(now uint64, prev *uint64) cell {
	if prev == nil || r.dt <= 0 || now < *prev {
		return plain("-")
	}
	return plain(strconv.FormatFloat(float64(now-*prev)/r.dt, 'f', 0, 64))
}

// busyCell lists the busy kinds with a non-zero count; in a watch, kinds
// that grew since the last frame are red and show by how much.
func (r *treeRenderer) busyCell(n *tree.Node, busy map[string]uint64) cell {
	var prev map[string]uint64
	if old := r.prev[n.ID]; old != nil && old.Processor != nil {
		prev = old.Processor.Busy
	}
	var parts []string
	color := ""
	for _, k := range busyOrder(busy) {
		v := busy[k]
		if v == 0 {
			continue
		}
		s := fmt.Sprintf("%s %d", k, v)
		if prev != nil && v > prev[k] {
			s += fmt.Sprintf(" (+%d)", v-prev[k])
			color = colRed
		} else if color == "" {
			color = colYellow
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return cell{"-", colDim}
	}
	return cell{strings.Join(parts, "  "), color}
}

func depthCell(depth, capacity int) cell {
	c := plain(fmt.Sprintf("%d/%d", depth, capacity))
	switch {
	case capacity > 0 && depth*10 >= capacity*9:
		c.color = colRed
	case capacity > 0 && depth*2 >= capacity:
		c.color = colYellow
	}
	return c
}

// waitCell colours the head's wait against the queue's fast-failure limit:
// past it, the sweep is about to answer TIMEOUT_CLEAN_QUEUE.
func waitCell(wait, limit int64) cell {
	c := plain(millis(wait))
	switch {
	case limit > 0 && wait >= limit:
		c.color = colRed
	case limit > 0 && wait*2 >= limit:
		c.color = colYellow
	}
	return c
}

func connectionSummary(c *tree.ConnectionInfo) string {
	parts := []string{c.Remote}
	if c.Language != "" {
		lang := c.Language
		if c.Version != 0 {
			lang += " v" + strconv.Itoa(c.Version)
		}
		parts = append(parts, lang)
	}
	if c.ClientID != "" {
		parts = append(parts, "client "+c.ClientID)
	}
	parts = append(parts, fmt.Sprintf("in flight %d", c.Inflight))
	if c.QueuedAnswers > 0 {
		parts = append(parts, fmt.Sprintf("unsent %d (%d B)", c.QueuedAnswers, c.QueuedBytes))
	}
	if c.ReadPaused {
		parts = append(parts, "READS PAUSED: answers not drained")
	}
	if c.Backlogs > 0 {
		parts = append(parts, fmt.Sprintf("backlogs %d", c.Backlogs))
	}
	return strings.Join(parts, "  ")
}

// kindRank orders siblings: the work (processors, writer) before the
// plumbing (listener, connections).
var kindRank = map[string]int{
	tree.KindSupervisor: 0, tree.KindProcessor: 1, tree.KindWriter: 2,
	tree.KindService: 3, tree.KindListener: 4, tree.KindConnection: 5, tree.KindActor: 6,
}

func displayOrder(nodes []*tree.Node) []*tree.Node {
	out := slices.Clone(nodes)
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank(out[i].Kind), rank(out[j].Kind)
		if ri != rj {
			return ri < rj
		}
		return naturalLess(out[i].Name, out[j].Name)
	})
	return out
}

func rank(kind string) int {
	if r, ok := kindRank[kind]; ok {
		return r
	}
	return len(kindRank)
}

// naturalLess orders "conn-2" before "conn-10".
func naturalLess(a, b string) bool {
	pa, na := splitNumber(a)
	pb, nb := splitNumber(b)
	if pa == pb && na >= 0 && nb >= 0 {
		return na < nb
	}
	return a < b
}

func splitNumber(s string) (string, int) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(s[i:])
	if err != nil {
		return s, -1
	}
	return s[:i], n
}

// limitConnections keeps every node but the connections past max: a broker
// with a thousand clients would push everything else off the screen.
func limitConnections(nodes []*tree.Node, max int) ([]*tree.Node, int) {
	out := make([]*tree.Node, 0, len(nodes))
	hidden, conns := 0, 0
	for _, n := range nodes {
		if n.Kind == tree.KindConnection {
			conns++
			if conns > max {
				hidden++
				continue
			}
		}
		out = append(out, n)
	}
	return out, hidden
}

// busyOrder lists the kinds in m in RocketMQ's order (remoting.BusyKinds),
// then any kinds this sluicectl does not know, sorted.
func busyOrder(m map[string]uint64) []string {
	var out []string
	known := map[string]bool{}
	for _, k := range remoting.BusyKinds {
		known[k.Tag()] = true
		if _, ok := m[k.Tag()]; ok {
			out = append(out, k.Tag())
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !known[k] {
			out = append(out, k)
		}
	}
	return out
}

func millis(ms int64) string { return strconv.FormatInt(ms, 10) + "ms" }

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
