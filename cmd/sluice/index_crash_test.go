package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/sluice-mq/sluice/remoting"
)

// The index crash test: the real broker binary under send load (every
// message with a unique key and a KEYS key), SIGKILLed at a random moment,
// restarted on the same store. Every acknowledged message must then be
// found by its key and by its unique key exactly once, with the offset
// msgId its acknowledgement named; a message that was in flight may be
// missing but never found twice. Small index files make the index roll
// during the load, so recovery also meets a roll.
//
// SLUICE_INDEX_CRASH_ROUNDS sets the number of kills (default 1, to keep
// the suite short; `task crash:index` runs 5);
// SLUICE_CRASH_SEED replays a run.

const indexCrashTopic = "IndexCrashTopic"

type indexCrashAck struct {
	key, offsetMsgID string
	round            int
}

func TestIndexCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the broker binary")
	}
	rounds := envCount(t, "SLUICE_INDEX_CRASH_ROUNDS", 1)
	seed := crashSeed(t)
	t.Logf("rounds=%d seed=%d (replay with SLUICE_CRASH_SEED=%d)", rounds, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x1d))

	dir := t.TempDir()
	bin := buildBinary(t)
	conf := writeCrashConf(t, dir, "ASYNC_FLUSH",
		"mappedFileSizeCommitLog=1048576", "mappedFileSizeConsumeQueue=20000",
		// 1000 messages (two keys each) per index file.
		"maxHashSlotNum=512", "maxIndexNum=2001",
	)
	runs := newCrashRuns(t)
	var acked []indexCrashAck
	var attempted []string
	for round := 0; ; round++ {
		p := runs.start(bin, conf, round)
		p.log.mu.Lock()
		for _, line := range p.log.lines {
			if strings.Contains(line, `"message":"index`) || strings.Contains(line, "indexing commit-log records again") {
				t.Logf("round %d: %s", round, line)
			}
		}
		p.log.mu.Unlock()
		if round > 0 {
			problems := verifyIndex(t, p.addr, acked, attempted)
			if len(problems) > 0 {
				t.Fatalf("round %d: %d problem(s):\n  %s", round, len(problems), strings.Join(crashHead(problems, 40), "\n  "))
			}
			t.Logf("round %d: %d acknowledged messages found by key and unique key, %d attempted checked for duplicates", round, len(acked), len(attempted))
		}
		if round == rounds {
			if err := p.stop(); err != nil {
				t.Fatalf("clean stop: %v", err)
			}
			return
		}
		delay := 200*time.Millisecond + time.Duration(rng.Int64N(int64(400*time.Millisecond)))
		a, tried := indexLoad(t, p, round, delay)
		acked = append(acked, a...)
		attempted = append(attempted, tried...)
		t.Logf("round %d: SIGKILL after %v: %d attempted, %d acknowledged", round, delay.Round(time.Millisecond), len(tried), len(a))
	}
}

// indexLoad sends until the broker is killed after delay.
func indexLoad(t *testing.T, p *crashProc, round int, delay time.Duration) (acked []indexCrashAck, attempted []string) {
	t.Helper()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		stop atomic.Bool
	)
	for s := range 4 {
		c, err := remoting.Dial(context.Background(), p.addr, remoting.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				key := fmt.Sprintf("r%d-s%d-n%06d", round, s, n)
				mu.Lock()
				attempted = append(attempted, key)
				mu.Unlock()
				resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.SendMessage, map[string]string{
					"producerGroup": "index_crash_pg", "topic": indexCrashTopic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
					"queueId": strconv.Itoa(n % 4), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(time.Now().UnixMilli(), 10),
					"flag": "0", "properties": "KEYS\x01k-" + key + " shared\x02" + primitive.PropertyUniqueClientMessageIdKeyIndex + "\x01" + key + "\x02",
					"reconsumeTimes": "0", "unitMode": "false", "maxReconsumeTimes": "0", "batch": "false",
				}, []byte("body-"+key)), 10*time.Second)
				if err != nil {
					return
				}
				if resp.ResponseCode() == remoting.Success {
					mu.Lock()
					acked = append(acked, indexCrashAck{key: key, offsetMsgID: resp.Ext("msgId"), round: round})
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(delay)
	p.kill()
	stop.Store(true)
	wg.Wait()
	return acked, attempted
}

// verifyIndex queries every attempted message by key and by unique key.
func verifyIndex(t *testing.T, addr string, acked []indexCrashAck, attempted []string) []string {
	t.Helper()
	c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{})
	if err != nil {
		return []string{err.Error()}
	}
	defer c.Close()
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	// find returns the offset msgIds of the records whose UNIQ_KEY is key.
	find := func(k string, uniq bool, key string) []string {
		resp, err := c.Invoke(context.Background(), remoting.NewRequest(remoting.QueryMessage, map[string]string{
			"topic": indexCrashTopic, "key": k, "maxNum": "64", "beginTimestamp": "0",
			"endTimestamp":              strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10),
			remoting.UniqueMsgQueryFlag: strconv.FormatBool(uniq),
		}, nil), 10*time.Second)
		if err != nil {
			bad("query %s: %v", k, err)
			return nil
		}
		if resp.ResponseCode() == remoting.QueryNotFound {
			return nil
		}
		if resp.ResponseCode() != remoting.Success {
			bad("query %s: %s %s", k, resp.ResponseCode(), resp.Remark)
			return nil
		}
		var ids []string
		for _, m := range primitive.DecodeMessage(resp.Body) {
			if m.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex) == key {
				ids = append(ids, m.OffsetMsgId)
			}
		}
		return ids
	}
	ack := make(map[string]indexCrashAck, len(acked))
	for _, a := range acked {
		ack[a.key] = a
	}
	for _, key := range attempted {
		a, wasAcked := ack[key]
		for _, q := range []struct {
			k    string
			uniq bool
		}{{"k-" + key, false}, {key, true}} {
			ids := find(q.k, q.uniq, key)
			switch {
			case len(ids) > 1:
				bad("%s (unique %v): found %d times %v", q.k, q.uniq, len(ids), ids)
			case wasAcked && len(ids) == 0:
				bad("%s (unique %v): acknowledged in round %d as %s, not found", q.k, q.uniq, a.round, a.offsetMsgID)
			case wasAcked && !strings.EqualFold(ids[0], a.offsetMsgID):
				bad("%s (unique %v): found as %s, acknowledged as %s", q.k, q.uniq, ids[0], a.offsetMsgID)
			}
		}
	}
	return problems
}
