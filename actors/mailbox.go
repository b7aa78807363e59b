package actors

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/sluice-mq/sluice/remoting"
)

// Mailbox is a processor's bounded request queue, plugged into protoactor as
// the actor's mailbox. protoactor's own bounded mailbox blocks the sender
// when full; RocketMQ answers OVERLOAD at once instead, so TryPost refuses
// and the caller answers. Requests keep their arrival time, and the
// fast-failure sweep may take requests from the head: whoever removes a
// request from the queue — the actor popping it or the sweep — is the only
// one who answers it.
//
// Only *Request messages count toward the capacity; protoactor's own user
// messages (PoisonPill, ReceiveTimeout) and system messages are never
// refused, or stopping and restarting would break under load.
type Mailbox struct {
	capacity int

	mu        sync.Mutex
	user      fifo
	sys       fifo
	requests  int // *Request messages in user
	closed    bool
	userN     atomic.Int32
	sysN      atomic.Int32
	status    atomic.Int32 // 0 idle, 1 scheduled or running
	suspended atomic.Int32

	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
	processFn  func() // m.process, bound once: a method value allocates each time it is made
	// runHere, if set, says whether a poster that finds the actor idle may
	// run the turn of its own request on its goroutine (PostAndRun).
	runHere func() bool
}

// NewMailbox returns a mailbox that holds at most capacity requests.
func NewMailbox(capacity int) *Mailbox {
	if capacity < 1 {
		capacity = 1
	}
	return &Mailbox{capacity: capacity}
}

// Capacity is the most requests the mailbox holds.
func (m *Mailbox) Capacity() int { return m.capacity }

// Len is the number of queued requests.
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests
}

// TryPost queues msg unless it is a request and the mailbox is full or
// closed. It never blocks.
func (m *Mailbox) TryPost(msg any) bool {
	_, isReq := msg.(*Request)
	if !m.enqueue(msg, isReq) {
		return false
	}
	m.schedule()
	return true
}

// enqueue queues msg unless it is a request and the mailbox is full or
// closed; it schedules nothing.
func (m *Mailbox) enqueue(msg any, isReq bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if isReq && (m.requests >= m.capacity || m.closed) {
		return false
	}
	m.user.push(msg)
	if isReq {
		m.requests++
	}
	m.userN.Store(int32(m.user.size))
	return true
}

// PostAndRun is TryPost for a caller that may run the actor's turn itself:
// when the actor is idle and the mailbox's run-here check agrees, the
// caller's goroutine takes the turn — one message, normally its own — and
// hands whatever arrived meanwhile to the dispatcher, so the caller is
// delayed by one request's handling at most. Otherwise it is TryPost.
// ran says the turn ran here.
//
// It saves the wake-up of the actor's goroutine and a goroutine hand-off
// per request where the processor mostly waits idle for the next one (the
// send processor under waiting producers); the turn is the same turn, one
// at a time under the mailbox's status, so the actor cannot tell.
func (m *Mailbox) PostAndRun(r *Request) (queued, ran bool) {
	if !m.enqueue(r, true) {
		return false, false
	}
	if m.dispatcher == nil || !m.status.CompareAndSwap(0, 1) {
		return true, false
	}
	if m.runHere == nil || m.sysN.Load() != 0 || m.suspended.Load() == 1 || !m.runHere() {
		m.dispatcher.Schedule(m.processFn)
		return true, false
	}
	m.run(1)
	m.status.Store(0)
	if m.pending() {
		m.schedule()
	}
	return true, true
}

// pending says whether a turn has work: a system message, or a user
// message while not suspended.
func (m *Mailbox) pending() bool {
	return m.sysN.Load() != 0 || (m.suspended.Load() == 0 && m.userN.Load() != 0)
}

// PostUserMessage is protoactor's entry point (Send and Request). A request
// that does not fit is answered OVERLOAD by the caller of TryPost; one that
// arrives this way has nobody to answer it, so it is answered here.
func (m *Mailbox) PostUserMessage(msg any) {
	if !m.TryPost(msg) {
		if r, ok := msg.(*Request); ok {
			r.ReplyBusy(remoting.Overload, 0, 0)
		}
	}
}

// PostSystemMessage queues a system message; these are never refused.
func (m *Mailbox) PostSystemMessage(msg any) {
	m.mu.Lock()
	m.sys.push(msg)
	m.sysN.Store(int32(m.sys.size))
	m.mu.Unlock()
	m.schedule()
}

// RegisterHandlers is called by protoactor before Start.
func (m *Mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
	m.processFn = m.process
}

// Start is called by protoactor once the actor exists.
func (m *Mailbox) Start() {}

// UserMessageCount is the depth protoactor and metrics read.
func (m *Mailbox) UserMessageCount() int { return int(m.userN.Load()) }

// TakeHeadIf removes the head request if it is a request and expired says
// so, returning it and the number of requests left. The caller then owns
// the request and must answer it. A non-request at the head stops the sweep,
// as RocketMQ's stops at a head that is not a RequestTask.
func (m *Mailbox) TakeHeadIf(expired func(*Request) bool) (*Request, int) {
	head, requests, _ := m.takeHead(func(msg any) bool {
		r, ok := msg.(*Request)
		return ok && expired(r)
	})
	r, _ := head.(*Request)
	return r, requests
}

// takeHead removes the head user message if take says so, returning it
// and the number of requests and of user messages left.
func (m *Mailbox) takeHead(take func(any) bool) (head any, requests, size int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	head = m.user.peek()
	if head == nil || !take(head) {
		return nil, m.requests, m.user.size
	}
	m.user.pop()
	if _, ok := head.(*Request); ok {
		m.requests--
	}
	m.userN.Store(int32(m.user.size))
	return head, m.requests, m.user.size
}

// HeadArrival is the arrival time of the request at the head, zero if the
// queue is empty.
func (m *Mailbox) HeadArrival() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.user.peek().(*Request); ok {
		return r.Arrived
	}
	return time.Time{}
}

// Close refuses further requests and returns those still queued, which the
// caller must answer. Used at shutdown and when the processor stops.
func (m *Mailbox) Close() []*Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	var left []*Request
	var keep fifo
	for m.user.size > 0 {
		msg := m.user.pop()
		if r, ok := msg.(*Request); ok {
			left = append(left, r)
		} else {
			keep.push(msg)
		}
	}
	m.user = keep
	m.requests = 0
	m.userN.Store(int32(m.user.size))
	return left
}

func (m *Mailbox) schedule() {
	// A queue without an actor (Processor.OpenQueue before Spawn) is
	// drained by whoever drives it.
	if m.dispatcher == nil {
		return
	}
	if m.status.CompareAndSwap(0, 1) {
		m.dispatcher.Schedule(m.processFn)
	}
}

func (m *Mailbox) process() {
	for {
		m.run(0)
		m.status.Store(0)
		if !m.pending() {
			return
		}
		// A post raced with going idle: take the turn back or leave it to
		// the poster who won it.
		if !m.status.CompareAndSwap(0, 1) {
			return
		}
	}
}

// next pops the next message under one lock: system messages first, then,
// unless suspended, user messages.
func (m *Mailbox) next() (msg any, system bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sys.size > 0 {
		msg = m.sys.pop()
		m.sysN.Store(int32(m.sys.size))
		return msg, true
	}
	if m.suspended.Load() == 1 || m.user.size == 0 {
		return nil, false
	}
	msg = m.user.pop()
	if _, ok := msg.(*Request); ok {
		m.requests--
	}
	m.userN.Store(int32(m.user.size))
	return msg, false
}

// Panic is the failure reason a processor's panic escalates with: the
// recovered value and the stack where it happened, which protoactor itself
// does not keep.
type Panic struct {
	Value any
	Stack []byte
}

func (p *Panic) Error() string { return fmt.Sprintf("panic: %v", p.Value) }

// run handles messages until the mailbox is empty or, with userLimit > 0,
// until it has handled that many user messages.
func (m *Mailbox) run(userLimit int) {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(&Panic{Value: r, Stack: debug.Stack()}, msg)
		}
	}()
	throughput := m.dispatcher.Throughput()
	for i, users := 0, 0; userLimit == 0 || users < userLimit; i++ {
		if i >= throughput {
			i = 0
			runtime.Gosched()
		}
		var system bool
		if msg, system = m.next(); msg == nil {
			return
		}
		if system {
			switch msg.(type) {
			case *actor.SuspendMailbox:
				m.suspended.Store(1)
			case *actor.ResumeMailbox:
				m.suspended.Store(0)
			default:
				m.invoker.InvokeSystemMessage(msg)
			}
			continue
		}
		users++
		m.invoker.InvokeUserMessage(msg)
	}
}

// TryPop removes the next user message without waiting, for an actor that
// drains several queued messages in one turn (the writer's group commit).
// It must only be called from the actor's own Receive.
func (m *Mailbox) TryPop() any {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.user.size == 0 {
		return nil
	}
	msg := m.user.pop()
	if _, ok := msg.(*Request); ok {
		m.requests--
	}
	m.userN.Store(int32(m.user.size))
	return msg
}
