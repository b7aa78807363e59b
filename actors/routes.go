package actors

import "github.com/sluice-mq/sluice/remoting"

// Routes maps request codes to processors. It is built before the listener
// starts and never changed afterwards, so connection actors read it without
// locks.
type Routes struct {
	byCode     map[remoting.RequestCode]*Processor
	processors []*Processor
}

// NewRoutes indexes processors by their codes; a code claimed twice is a
// programming error and panics at start-up.
func NewRoutes(processors ...*Processor) *Routes {
	rt := &Routes{byCode: make(map[remoting.RequestCode]*Processor)}
	for _, p := range processors {
		for _, c := range p.Codes {
			if other, dup := rt.byCode[c]; dup {
				panic("request code " + c.String() + " routed to both " + other.Name + " and " + p.Name)
			}
			rt.byCode[c] = p
		}
		rt.processors = append(rt.processors, p)
	}
	return rt
}

// Lookup returns the processor for code.
func (rt *Routes) Lookup(code remoting.RequestCode) (*Processor, bool) {
	p, ok := rt.byCode[code]
	return p, ok
}

// Processors lists every processor in registration order.
func (rt *Routes) Processors() []*Processor { return rt.processors }
