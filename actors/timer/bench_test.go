package timer_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/timer"
	"github.com/sluice-mq/sluice/commitlog"
	"github.com/sluice-mq/sluice/remoting/message"
)

// BenchmarkTimerDelivery is the dequeue side alone, without a network:
// b.N timer messages due in the same tick are put back into their topic
// (ns/op is per message). Baseline, same run: the same messages put
// straight into their topic through the same writer ("plain").
//
//	go test -run '^$' -bench BenchmarkTimerDelivery -benchtime 200000x -count 5 ./actors/timer/
func BenchmarkTimerDelivery(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		e := openEnvB(b)
		m := benchMessage(0)
		rec, _ := commitlog.AppendRecord(nil, &m)
		jobs := make([]*actors.AppendJob, 256)
		done := make(chan struct{}, len(jobs))
		for i := range jobs {
			jobs[i] = &actors.AppendJob{Done: func(*actors.AppendJob) { done <- struct{}{} }}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i += len(jobs) {
			k := min(len(jobs), b.N-i)
			for _, j := range jobs[:k] {
				j.Put = commitlog.PutRequest{Topic: "Real", QueueID: 1, Records: rec, Count: 1}
				e.writer.Submit(j, nil)
			}
			for range k {
				<-done
			}
		}
	})
	b.Run("timer", func(b *testing.B) {
		e := openEnvB(b)
		// Driven as the timer actor drives it: a pass when the service asks.
		wake := make(chan struct{}, 1)
		s := e.service(e.writer, func(c *timer.Config) {
			c.Wake = func() {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		})
		defer s.Stop()
		base := time.Now().UnixMilli()
		for i := 0; i < b.N; i++ {
			e.park(strconv.Itoa(i), base, base+1000)
		}
		tickUntil(s, base)
		b.ResetTimer()
		now := base + 2000
		for s.Inspect().Delivered < uint64(b.N) {
			s.Tick(time.UnixMilli(now))
			select {
			case <-wake:
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
}

func benchMessage(i int) commitlog.Message {
	return commitlog.Message{Topic: "Real", QueueID: 1, Body: make([]byte, 100),
		Properties: props("TAGS", "a", message.PropertyUniqClientMessageIDKeyIdx, strconv.Itoa(i))}
}
