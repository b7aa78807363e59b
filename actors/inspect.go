package actors

import (
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/remoting"
)

// Inspectors maps actor ids to functions that describe them. The tree's
// shape comes from the actor system's own registry; inspectors only add
// what protoactor cannot tell (queue depths, lock-hold times), so an actor
// nobody registered still shows up, as a plain "actor" node.
type Inspectors struct {
	mu sync.RWMutex
	m  map[string]func(*tree.Node)
}

// NewInspectors returns an empty registry.
func NewInspectors() *Inspectors { return &Inspectors{m: make(map[string]func(*tree.Node))} }

// Register sets the inspector for the actor with id.
func (in *Inspectors) Register(id string, fn func(*tree.Node)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.m[id] = fn
}

// Unregister forgets the actor with id.
func (in *Inspectors) Unregister(id string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.m, id)
}

// Snapshot walks the actor system's registry and builds the tree under the
// actor rootID.
func (in *Inspectors) Snapshot(sys *actor.ActorSystem, rootID string) *tree.Node {
	var ids []string
	for _, bucket := range sys.ProcessRegistry.LocalPIDs.LocalPIDs {
		bucket.IterCb(func(id string, v interface{}) {
			if _, ok := v.(*actor.ActorProcess); !ok {
				return
			}
			if id == rootID || strings.HasPrefix(id, rootID+"/") {
				ids = append(ids, id)
			}
		})
	}
	sort.Strings(ids)
	nodes := make(map[string]*tree.Node, len(ids))
	in.mu.RLock()
	for _, id := range ids {
		n := &tree.Node{ID: id, Name: id[strings.LastIndexByte(id, '/')+1:], Kind: tree.KindActor}
		if fn, ok := in.m[id]; ok {
			fn(n)
		}
		nodes[id] = n
	}
	in.mu.RUnlock()
	root := nodes[rootID]
	for _, id := range ids {
		if id == rootID {
			continue
		}
		parent := nodes[id[:strings.LastIndexByte(id, '/')]]
		if parent != nil {
			parent.Children = append(parent.Children, nodes[id])
		}
	}
	return root
}

// Inspect fills n with the processor's queue and counters.
func (p *Processor) Inspect(n *tree.Node) {
	n.Kind = tree.KindProcessor
	info := &tree.ProcessorInfo{
		Capacity:      p.Capacity,
		MaxWaitMillis: p.WaitLimit().Milliseconds(),
		Processed:     p.Stats.Processed.Load(),
		RanOnArrival:  p.Stats.RanOnArrival.Load(),
		Panics:        p.Stats.Panics.Load(),
		Busy:          make(map[string]uint64, len(remoting.BusyKinds)),
	}
	info.HeldNow, info.HeldReads, info.HoldTimeouts = p.HeldReads()
	for _, c := range p.Codes {
		info.Codes = append(info.Codes, c.String())
	}
	for _, k := range remoting.BusyKinds {
		info.Busy[k.Tag()] = p.Stats.Busy[k].Load()
	}
	if mb := p.mailbox; mb != nil {
		info.Depth = mb.Len()
		if t := mb.HeadArrival(); !t.IsZero() {
			info.OldestWaitMillis = time.Since(t).Milliseconds()
		}
	}
	n.Processor = info
}
