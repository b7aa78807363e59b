package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// RebalanceLockMaxLiveTime is how long a queue lock lives without being
// renewed (rocketmq.broker.rebalance.lockMaxLiveTime, 60 s). Orderly
// rocketmq-client-go consumers renew every 20 s and trust their own copy
// for 30 s.
const RebalanceLockMaxLiveTime = 60 * time.Second

// MessageQueue is a queue as LOCK_BATCH_MQ names it.
type MessageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int32  `json:"queueId"`
}

// LockBatchRequestBody is the LOCK_BATCH_MQ (41) body; UNLOCK_BATCH_MQ (42)
// sends the same shape.
type LockBatchRequestBody struct {
	ConsumerGroup  string         `json:"consumerGroup"`
	ClientID       string         `json:"clientId"`
	OnlyThisBroker bool           `json:"onlyThisBroker,omitempty"`
	MqSet          []MessageQueue `json:"mqSet"`
}

// DecodeLockBatchRequest parses a LOCK_BATCH_MQ or UNLOCK_BATCH_MQ body.
func DecodeLockBatchRequest(body []byte) (LockBatchRequestBody, error) {
	var b LockBatchRequestBody
	if len(bytes.TrimSpace(body)) == 0 {
		return b, errors.New("decode lock batch request: empty body")
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return b, fmt.Errorf("decode lock batch request: %w", err)
	}
	return b, nil
}

type lockBatchResponseBody struct {
	LockOKMQSet []MessageQueue `json:"lockOKMQSet"`
}

// EncodeLockBatchResponse is the LOCK_BATCH_MQ response body,
// {"lockOKMQSet":[...]} ([] when nothing was locked).
func EncodeLockBatchResponse(locked []MessageQueue) []byte {
	if locked == nil {
		locked = []MessageQueue{}
	}
	b, _ := json.Marshal(lockBatchResponseBody{LockOKMQSet: locked}) // plain structs always encode
	return b
}

type lockEntry struct {
	clientID   string
	lastUpdate time.Time
}

// RebalanceLockManager is RocketMQ's RebalanceLockManager: which client of
// a group owns each queue, for orderly consumption. Locks live in memory
// only, as in Java. Safe for concurrent use.
type RebalanceLockManager struct {
	cfg     Config
	maxLive time.Duration
	mu      sync.Mutex
	table   map[string]map[MessageQueue]*lockEntry // group → queue → owner
}

// NewRebalanceLockManager uses cfg.Log and cfg.Now; maxLive 0 means
// RebalanceLockMaxLiveTime.
func NewRebalanceLockManager(cfg Config, maxLive time.Duration) *RebalanceLockManager {
	if maxLive <= 0 {
		maxLive = RebalanceLockMaxLiveTime
	}
	return &RebalanceLockManager{cfg: cfg, maxLive: maxLive, table: map[string]map[MessageQueue]*lockEntry{}}
}

func (m *RebalanceLockManager) expired(e *lockEntry, now time.Time) bool {
	return now.Sub(e.lastUpdate) > m.maxLive
}

// TryLock locks one queue; see TryLockBatch.
func (m *RebalanceLockManager) TryLock(group string, mq MessageQueue, clientID string) bool {
	return len(m.TryLockBatch(group, []MessageQueue{mq}, clientID)) == 1
}

// TryLockBatch is tryLockBatch: for each queue, a free queue is taken, a
// queue clientID already holds is renewed, an expired lock of another
// client is taken over; a live lock of another client is refused. It
// returns the queues clientID now holds, in request order, duplicates
// removed.
func (m *RebalanceLockManager) TryLockBatch(group string, mqs []MessageQueue, clientID string) []MessageQueue {
	now := m.cfg.now()
	locked := make([]MessageQueue, 0, len(mqs))
	seen := make(map[MessageQueue]struct{}, len(mqs))
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.table[group]
	if g == nil {
		g = map[MessageQueue]*lockEntry{}
		m.table[group] = g
	}
	for _, mq := range mqs {
		if _, dup := seen[mq]; dup {
			continue
		}
		seen[mq] = struct{}{}
		e := g[mq]
		switch {
		case e == nil:
			g[mq] = &lockEntry{clientID: clientID, lastUpdate: now}
			m.cfg.Log.Info().Str("group", group).Str("clientId", clientID).Interface("mq", mq).
				Msg("tryLockBatch, message queue not locked, I got it")
		case e.clientID == clientID:
			e.lastUpdate = now // renewed, expired or not
		case m.expired(e, now):
			m.cfg.Log.Warn().Str("group", group).Str("oldClientId", e.clientID).Str("newClientId", clientID).
				Interface("mq", mq).Msg("tryLockBatch, message queue lock expired, I got it")
			e.clientID, e.lastUpdate = clientID, now
		default:
			m.cfg.Log.Warn().Str("group", group).Str("otherClientId", e.clientID).Str("newClientId", clientID).
				Interface("mq", mq).Msg("tryLockBatch, message queue locked by other client")
			continue
		}
		locked = append(locked, mq)
	}
	return locked
}

// UnlockBatch is unlockBatch: releases the queues clientID holds; locks of
// other clients stay.
func (m *RebalanceLockManager) UnlockBatch(group string, mqs []MessageQueue, clientID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.table[group]
	if g == nil {
		m.cfg.Log.Warn().Str("group", group).Str("clientId", clientID).Msg("unlockBatch, group not exist")
		return
	}
	for _, mq := range mqs {
		e := g[mq]
		switch {
		case e == nil:
			m.cfg.Log.Warn().Str("group", group).Str("clientId", clientID).Interface("mq", mq).Msg("unlockBatch, but mq not locked")
		case e.clientID != clientID:
			m.cfg.Log.Warn().Str("group", group).Str("otherClientId", e.clientID).Str("clientId", clientID).
				Interface("mq", mq).Msg("unlockBatch, but mq locked by other client")
		default:
			delete(g, mq)
		}
	}
	if len(g) == 0 {
		delete(m.table, group)
	}
}

// IsLockedBy reports whether clientID holds a live lock on mq, without
// renewing it (the broker itself has no use for Java's renewing isLocked;
// this is for admin output and tests).
func (m *RebalanceLockManager) IsLockedBy(group string, mq MessageQueue, clientID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.table[group][mq]
	return e != nil && e.clientID == clientID && !m.expired(e, m.cfg.now())
}
