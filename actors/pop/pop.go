package pop

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/actors/tree"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/remoting/message"
)

// Config is the pop service's BrokerConfig keys (RocketMQ 5 names).
type Config struct {
	// Dir holds the checkpoint journal (<storePathRootDir>/pop).
	Dir string
	// ReviveQueueNum (reviveQueueNum, 8): the reviveQid of a checkpoint
	// is a counter modulo this, as RocketMQ spreads them.
	ReviveQueueNum int
	// ReviveInterval (reviveInterval, 1000 ms): how often due checkpoints
	// are revived.
	ReviveInterval time.Duration
	// PopFromRetryProbability (popFromRetryProbability, 20): the percentage
	// of pops that read the pop retry topic first.
	PopFromRetryProbability int
	// PopPollingSize (popPollingSize, 1024): held pops per topic; past it
	// a pop is answered POLLING_FULL.
	PopPollingSize int
}

// DefaultConfig is RocketMQ 5's BrokerConfig defaults.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, ReviveQueueNum: 8, ReviveInterval: time.Second, PopFromRetryProbability: 20, PopPollingSize: 1024}
}

// Service serves the pop codes and revives expired checkpoints.
type Service struct {
	ID     metadata.BrokerIdentity
	Store  *commitlog.Store
	Writer *actors.Writer
	Meta   *metadata.Managers
	Log    zerolog.Logger
	// Requeue puts a woken pop back into its processor's queue (as the
	// pull hold service does); nil answers it on the service goroutine.
	Requeue func(*actors.Request)

	cfg Config

	mu        sync.Mutex // the checkpoint table, pop offsets, journal
	cks       map[ckKey]*PopCheckPoint
	journal   *journal
	compactAt int64
	ckSeq     uint64

	holdMu sync.Mutex
	held   map[string][]*heldPop // by topic the pop waits on

	pops, acks, changes, revived, dlq, popped atomic.Uint64

	wake      chan struct{}
	done      chan struct{}
	stopOnce  sync.Once
	closeStop chan struct{}
}

type queueKey struct {
	group, topic string
	queueID      int32
}

type heldPop struct {
	req      *actors.Request
	deadline time.Time
}

// New opens the journal under cfg.Dir and restores its checkpoints.
func New(cfg Config, id metadata.BrokerIdentity, store *commitlog.Store, w *actors.Writer, meta *metadata.Managers, log zerolog.Logger) (*Service, error) {
	if cfg.ReviveQueueNum <= 0 {
		cfg.ReviveQueueNum = 8
	}
	if cfg.ReviveInterval <= 0 {
		cfg.ReviveInterval = time.Second
	}
	if cfg.PopPollingSize <= 0 {
		cfg.PopPollingSize = 1024
	}
	j, cks, err := openJournal(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if len(cks) > 0 {
		log.Info().Int("checkpoints", len(cks)).Msg("pop: restored un-acked checkpoints; their messages come back after their invisible time")
	}
	return &Service{ID: id, Store: store, Writer: w, Meta: meta, Log: log, cfg: cfg,
		cks: cks, journal: j, compactAt: compactBytes, held: map[string][]*heldPop{},
		wake: make(chan struct{}, 1), done: make(chan struct{}), closeStop: make(chan struct{})}, nil
}

// ByCode maps the pop codes to their handlers.
func (s *Service) ByCode() map[remoting.RequestCode]actors.HandlerFunc {
	return map[remoting.RequestCode]actors.HandlerFunc{
		remoting.PopMessage:                 s.popMessage,
		remoting.AckMessage:                 s.ackMessage,
		remoting.ChangeMessageInvisibleTime: s.changeInvisibleTime,
		remoting.PeekMessage:                s.refuse,
		remoting.BatchAckMessage:            s.refuse,
		remoting.Notification:               s.refuse,
		remoting.PollingInfo:                s.refuse,
		remoting.PopRollback:                s.refuse,
	}
}

// Codes lists the codes ByCode serves, for routing.
func Codes() []remoting.RequestCode {
	return []remoting.RequestCode{remoting.PopMessage, remoting.AckMessage, remoting.ChangeMessageInvisibleTime,
		remoting.PeekMessage, remoting.BatchAckMessage, remoting.Notification, remoting.PollingInfo, remoting.PopRollback}
}

func (s *Service) refuse(r *actors.Request) {
	code := r.Cmd.RequestCode()
	s.Log.Warn().Str("code", code.String()).Str("client", r.RemoteAddr()).Msg("pop: request code not supported by Sluice, refused")
	r.ReplyCode(remoting.RequestCodeNotSupported, "the broker does not support "+code.String()+" (Sluice serves POP_MESSAGE, ACK_MESSAGE and CHANGE_MESSAGE_INVISIBLETIME)")
}

// Stats are the service's counters.
type Stats struct {
	Pops, Popped, Acks, Changes, Revived, DLQ uint64
	Checkpoints                               int
	// InFlight is the un-acked popped messages by group@topic.
	InFlight map[string]int
	Held     int
}

// Inspect reads the counters and the in-flight table.
func (s *Service) Inspect() Stats {
	st := Stats{Pops: s.pops.Load(), Popped: s.popped.Load(), Acks: s.acks.Load(), Changes: s.changes.Load(),
		Revived: s.revived.Load(), DLQ: s.dlq.Load(), InFlight: map[string]int{}}
	s.mu.Lock()
	st.Checkpoints = len(s.cks)
	for _, ck := range s.cks {
		st.InFlight[ck.Group+"@"+ck.Topic] += ck.unacked()
	}
	s.mu.Unlock()
	s.holdMu.Lock()
	for _, hs := range s.held {
		st.Held += len(hs)
	}
	s.holdMu.Unlock()
	return st
}

const maxPopMsgNums = 32

func nowMillis() int64 { return time.Now().UnixMilli() }

func (s *Service) popMessage(r *actors.Request) {
	h, err := remoting.DecodePopMessageRequestHeader(r.Cmd)
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	broker := s.ID.BrokerName
	if h.MaxMsgNums > maxPopMsgNums {
		r.ReplyCode(remoting.ResponseCode(29), "the broker["+broker+"] pop message's num is greater than 32")
		return
	}
	if h.MaxMsgNums <= 0 {
		h.MaxMsgNums = 1
	}
	if h.Order {
		s.Log.Warn().Str("group", h.ConsumerGroup).Str("topic", h.Topic).Msg("pop: order (FIFO) pop refused")
		r.ReplyCode(remoting.SystemError, "the broker["+broker+"] does not support order pop (FIFO pop consumption) yet")
		return
	}
	tc, ok := s.Meta.Topics.Select(h.Topic)
	if !ok {
		r.ReplyCode(remoting.TopicNotExist, "topic["+h.Topic+"] not exist, apply first please! "+metadata.RemarkTopicNotExist(h.Topic))
		return
	}
	if !metadata.IsReadable(tc.Perm) {
		r.ReplyCode(remoting.NoPermission, "the topic["+h.Topic+"] peeking message is forbidden")
		return
	}
	if h.QueueID >= int32(tc.ReadQueueNums) {
		r.ReplyCode(remoting.ResponseCode(29), "queueId["+strconv.Itoa(int(h.QueueID))+"] is illegal, topic:["+h.Topic+
			"] topicConfig.readQueueNums:["+strconv.Itoa(tc.ReadQueueNums)+"] consumer:["+r.RemoteAddr()+"]")
		return
	}
	sg, ok := s.Meta.SubscriptionGroups.FindOrCreate(h.ConsumerGroup)
	if !ok {
		r.ReplyCode(remoting.SubscriptionGroupNotExist, "subscription group ["+h.ConsumerGroup+"] does not exist")
		return
	}
	if !sg.ConsumeEnable {
		r.ReplyCode(remoting.NoPermission, "subscription group no permission, "+h.ConsumerGroup)
		return
	}
	var filter func(int64) bool
	if h.Exp != "" {
		sd, err := metadata.BuildSubscriptionData(h.Topic, h.Exp, h.ExpType)
		if err != nil {
			r.ReplyCode(remoting.SubscriptionParseFailed, "parse the consumer's subscription failed: "+err.Error())
			return
		}
		if !sd.IsTagType() {
			r.ReplyCode(remoting.SystemError, "The broker does not support consumer to filter message by "+sd.ExpressionType)
			return
		}
		filter = sd.Filter()
	}
	s.pops.Add(1)
	before := s.maxOffsets(&h, tc)
	resp := s.pop(r, &h, tc, filter)
	if resp == nil {
		// Nothing: park it for pollTime, unless this is its re-run.
		if h.PollTime > 0 && !r.Resumed {
			switch s.hold(r, &h) {
			case holdOK:
				// A message that arrived between the read and the hold
				// woke nobody: wake now rather than wait out pollTime.
				if s.maxOffsets(&h, tc) != before {
					s.NotifyMessageArriving(h.Topic, 0, 0, 0)
				}
				return
			case holdFull:
				resp = remoting.NewResponse(r.Cmd, remoting.PollingFull, "NO_MESSAGE_IN_QUEUE")
				s.emptyHeader(resp, &h)
				r.Reply(resp)
				return
			}
		}
		resp = remoting.NewResponse(r.Cmd, remoting.PollingTimeout, "NO_MESSAGE_IN_QUEUE")
		s.emptyHeader(resp, &h)
	}
	r.Reply(resp)
}

func (s *Service) emptyHeader(resp *remoting.Command, h *remoting.PopMessageRequestHeader) {
	hdr := remoting.PopMessageResponseHeader{PopTime: nowMillis(), InvisibleTime: h.InvisibleTime}
	hdr.Encode(resp)
}

// popResult gathers what one POP_MESSAGE read.
type popResult struct {
	body            []byte
	count           int
	restNum         int64
	startOffsetInfo strings.Builder
	msgOffsetInfo   strings.Builder
}

// pop reads the retry topic and the topic's queues as PopMessageProcessor
// does; nil means nothing was found.
func (s *Service) pop(r *actors.Request, h *remoting.PopMessageRequestHeader, tc metadata.TopicConfig, filter func(int64) bool) *remoting.Command {
	randomQ := rand.IntN(100)
	popTime := nowMillis()
	s.mu.Lock()
	s.ckSeq++
	reviveQid := int32(s.ckSeq % uint64(s.cfg.ReviveQueueNum))
	s.mu.Unlock()
	var res popResult
	needRetry := randomQ < s.cfg.PopFromRetryProbability
	retryTopic := PopRetryTopic(h.Topic, h.ConsumerGroup)
	popRetry := func() {
		if rtc, ok := s.Meta.Topics.Select(retryTopic); ok {
			for i := 0; i < rtc.ReadQueueNums && res.count < int(h.MaxMsgNums); i++ {
				s.popQueue(h, retryTopic, int32((randomQ+i)%rtc.ReadQueueNums), true, popTime, reviveQid, filter, &res)
			}
		}
	}
	if needRetry {
		popRetry()
	}
	if h.QueueID < 0 {
		for i := 0; i < tc.ReadQueueNums && res.count < int(h.MaxMsgNums); i++ {
			s.popQueue(h, h.Topic, int32((randomQ+i)%tc.ReadQueueNums), false, popTime, reviveQid, filter, &res)
		}
	} else if res.count < int(h.MaxMsgNums) {
		s.popQueue(h, h.Topic, h.QueueID, false, popTime, reviveQid, filter, &res)
	}
	if !needRetry && res.count < int(h.MaxMsgNums) {
		popRetry()
	}
	if res.count == 0 {
		return nil
	}
	// The checkpoints reach the OS before the client sees the messages.
	s.mu.Lock()
	err := s.journal.flush()
	s.mu.Unlock()
	if err != nil {
		s.Log.Error().Err(err).Msg("pop: checkpoint journal")
	}
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "FOUND")
	hdr := remoting.PopMessageResponseHeader{PopTime: popTime, InvisibleTime: h.InvisibleTime, ReviveQid: reviveQid,
		RestNum: res.restNum, StartOffsetInfo: res.startOffsetInfo.String(), MsgOffsetInfo: res.msgOffsetInfo.String()}
	hdr.Encode(resp)
	resp.Body = res.body
	return resp
}

// popOffset is getPopOffset: the committed offset (the pop offset moves
// at pop, so an admin reset applies to the next pop), else the init offset (retry topics and initMode MIN from
// the queue's start; MAX from the last message, or 0 while the queue still
// starts at 0, as initPopOffsetByCheckMsgInMem does). Under s.mu.
func (s *Service) popOffset(k queueKey, initMode int32) int64 {
	if o, ok := s.Meta.Offsets.QueryOffset(k.group, k.topic, k.queueID); ok && o >= 0 {
		return o
	}
	minOff := s.Store.MinOffsetInQueue(k.topic, k.queueID)
	if initMode == 0 || strings.HasPrefix(k.topic, metadata.RetryGroupTopicPrefix) || minOff <= 0 {
		return minOff
	}
	return max(0, s.Store.MaxOffsetInQueue(k.topic, k.queueID)-1)
}

func (s *Service) popQueue(h *remoting.PopMessageRequestHeader, topic string, queueID int32, isRetry bool, popTime int64, reviveQid int32, filter func(int64) bool, res *popResult) {
	k := queueKey{h.ConsumerGroup, topic, queueID}
	s.mu.Lock()
	defer s.mu.Unlock()
	offset := s.popOffset(k, h.InitMode)
	g := s.Store.GetMessage(topic, queueID, offset, int(h.MaxMsgNums)-res.count, filter)
	if g.NextBeginOffset >= 0 && g.NextBeginOffset != offset {
		// The pop offset moves at pop, as RocketMQ commits it; what was
		// popped and not acked lives in the checkpoints.
		s.Meta.Offsets.CommitOffset(k.group, k.topic, k.queueID, g.NextBeginOffset)
	}
	res.restNum += max(0, g.MaxOffset-max(g.NextBeginOffset, offset))
	if g.Status != commitlog.Found || len(g.Messages) == 0 {
		return
	}
	ck := &PopCheckPoint{Group: h.ConsumerGroup, Topic: topic, QueueID: queueID, StartOffset: offset, PopTime: popTime,
		InvisibleTime: h.InvisibleTime, ReviveQid: reviveQid, BrokerName: s.ID.BrokerName}
	for _, m := range g.Messages {
		ck.Offsets = append(ck.Offsets, int64(binary.BigEndian.Uint64(m[20:28])))
	}
	if _, dup := s.cks[ck.key()]; dup {
		// Two pops of one queue in the same millisecond from the same
		// offset cannot happen (the offset moved); keep the first.
		return
	}
	s.cks[ck.key()] = ck
	if err := s.journal.appendCk(ck); err != nil {
		s.Log.Error().Err(err).Msg("pop: checkpoint journal")
	}
	s.popped.Add(uint64(len(g.Messages)))
	if res.startOffsetInfo.Len() > 0 {
		res.startOffsetInfo.WriteByte(';')
		res.msgOffsetInfo.WriteByte(';')
	}
	mark := retryMark(topic)
	q := strconv.Itoa(int(queueID))
	res.startOffsetInfo.WriteString(mark + " " + q + " " + strconv.FormatInt(offset, 10))
	res.msgOffsetInfo.WriteString(mark + " " + q + " ")
	for i, o := range ck.Offsets {
		if i > 0 {
			res.msgOffsetInfo.WriteByte(',')
		}
		res.msgOffsetInfo.WriteString(strconv.FormatInt(o, 10))
	}
	for i, m := range g.Messages {
		if !isRetry {
			res.body = append(res.body, m...)
			continue
		}
		// A retry topic's message goes out under the consumer's topic
		// with its POP_CK (popResponseReturnActualRetryTopic=false).
		sm, err := commitlog.DecodeRecord(m)
		if err != nil {
			res.body = append(res.body, m...)
			continue
		}
		sm.Topic = h.Topic
		sm.Properties = message.Set(sm.Properties, "POP_CK",
			BuildExtraInfo(offset, popTime, h.InvisibleTime, reviveQid, topic, s.ID.BrokerName, queueID, ck.Offsets[i]))
		start := len(res.body)
		out, err := commitlog.AppendRecordLimit(res.body, &sm.Message, len(sm.Body))
		if err != nil {
			res.body = append(res.body, m...)
			continue
		}
		rec := out[start:]
		binary.BigEndian.PutUint64(rec[20:], uint64(sm.QueueOffset))
		binary.BigEndian.PutUint64(rec[28:], uint64(sm.PhysicalOffset))
		binary.BigEndian.PutUint64(rec[48+hostLen(sm.BornHost):], uint64(sm.StoreTimestamp))
		res.body = out
	}
	res.count += len(g.Messages)
}

func hostLen(a netip.AddrPort) int {
	if a.Addr().Is6() && !a.Addr().Is4In6() {
		return 20
	}
	return 8
}

// BuildRunningStats adds the pop figures to GET_BROKER_RUNTIME_INFO
// (RocketMQ has no pop keys there; these are Sluice's, prefixed pop).
func (s *Service) BuildRunningStats(m map[string]string) {
	st := s.Inspect()
	inflight := 0
	for _, n := range st.InFlight {
		inflight += n
	}
	m["popCheckpoints"] = strconv.Itoa(st.Checkpoints)
	m["popInFlightMessages"] = strconv.Itoa(inflight)
	m["popTotal"] = strconv.FormatUint(st.Pops, 10)
	m["popMessageTotal"] = strconv.FormatUint(st.Popped, 10)
	m["popAckTotal"] = strconv.FormatUint(st.Acks, 10)
	m["popChangeInvisibleTimeTotal"] = strconv.FormatUint(st.Changes, 10)
	m["popReviveTotal"] = strconv.FormatUint(st.Revived, 10)
	m["popDLQTotal"] = strconv.FormatUint(st.DLQ, 10)
	m["popHeld"] = strconv.Itoa(st.Held)
}

// InspectNode describes the service for the actor tree.
func (s *Service) InspectNode() *tree.Node {
	st := s.Inspect()
	return &tree.Node{ID: "pop", Name: "pop", Kind: tree.KindService, Pop: &tree.PopInfo{
		Pops: st.Pops, Popped: st.Popped, Acks: st.Acks, Changes: st.Changes, Revived: st.Revived, DLQ: st.DLQ,
		Checkpoints: st.Checkpoints, Held: st.Held, InFlight: st.InFlight}}
}

// maxOffsets sums the max offsets of the queues a pop reads (its topic's
// and its pop retry topic's), to see whether anything arrived meanwhile.
func (s *Service) maxOffsets(h *remoting.PopMessageRequestHeader, tc metadata.TopicConfig) int64 {
	var n int64
	for q := 0; q < tc.ReadQueueNums; q++ {
		n += s.Store.MaxOffsetInQueue(h.Topic, int32(q))
	}
	return n + s.Store.MaxOffsetInQueue(PopRetryTopic(h.Topic, h.ConsumerGroup), 0)
}
