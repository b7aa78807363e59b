package actors

import (
	"fmt"

	"github.com/sluice-mq/sluice/remoting"
)

// Routes maps request codes to processors. It is built before the listener
// starts and never changed afterwards, so connection actors read it without
// locks.
type Routes struct {
	byCode     map[remoting.RequestCode]*Processor
	processors []*Processor
}

// NewRoutes indexes processors by their codes; a code claimed twice is an
// error (a broker would otherwise route it by chance).
func NewRoutes(processors ...*Processor) (*Routes, error) {
	rt := &Routes{byCode: make(map[remoting.RequestCode]*Processor)}
	for _, p := range processors {
		for _, c := range p.Codes {
			if other, dup := rt.byCode[c]; dup {
				return nil, fmt.Errorf("request code %s routed to both %s and %s", c, other.Name, p.Name)
			}
			rt.byCode[c] = p
		}
		rt.processors = append(rt.processors, p)
	}
	return rt, nil
}

// Lookup returns the processor for code.
func (rt *Routes) Lookup(code remoting.RequestCode) (*Processor, bool) {
	p, ok := rt.byCode[code]
	return p, ok
}

// Processors lists every processor in registration order.
func (rt *Routes) Processors() []*Processor { return rt.processors }
