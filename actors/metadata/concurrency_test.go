package metadata

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Many producers sending to one new topic at once: exactly one creates it,
// all see the same config, OnChange runs once.
func TestConcurrentAutoCreate(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	m, err := NewTopicConfigManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var changes, created atomic.Int32
	m.SetOnChange(func() { changes.Add(1) })
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tc, c, err := m.CreateTopicInSendMessageMethod("Hot", "TBW102", 4, 0)
			if err != nil || tc.WriteQueueNums != 4 {
				t.Errorf("%v %v", tc, err)
			}
			if c {
				created.Add(1)
			}
			m.Snapshot()
		}()
	}
	wg.Wait()
	if created.Load() != 1 || changes.Load() != 1 {
		t.Fatalf("created %d times, %d changes", created.Load(), changes.Load())
	}
}

// Commits, queries and persists from many goroutines (run with -race).
func TestConcurrentOffsets(t *testing.T) {
	cfg, _ := testConfig(t, t.TempDir())
	m, _ := NewConsumerOffsetManager(cfg)
	stop := m.StartPersister(time.Millisecond)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); i < 200; i++ {
				m.CommitOffset("cg", "T", int32(g), i)
				m.QueryOffset("cg", "T", int32(g))
				m.GroupProgress("cg")
			}
		}()
	}
	wg.Wait()
	stop()
	m2, err := NewConsumerOffsetManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for g := int32(0); g < 8; g++ {
		if off, ok := m2.QueryOffset("cg", "T", g); !ok || off != 199 {
			t.Fatalf("queue %d: %d %v", g, off, ok)
		}
	}
}
