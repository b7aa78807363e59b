package pop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// PopCheckPoint is one pop of one queue (store/pop/PopCheckPoint): the
// messages handed out, from StartOffset, invisible until PopTime +
// InvisibleTime; Acked has bit i set once Offsets[i] is acked or revived.
type PopCheckPoint struct {
	Group         string  `json:"c"`
	Topic         string  `json:"t"` // the topic read: the normal one or the pop retry topic
	QueueID       int32   `json:"q"`
	StartOffset   int64   `json:"so"`
	PopTime       int64   `json:"pt"`
	InvisibleTime int64   `json:"it"`
	ReviveQid     int32   `json:"rq"`
	BrokerName    string  `json:"bn"`
	Offsets       []int64 `json:"o"`
	Acked         uint64  `json:"bm"`
}

// ckKey names a checkpoint as an ack's extraInfo does.
type ckKey struct {
	group, topic string
	queueID      int32
	startOffset  int64
	popTime      int64
}

func (c *PopCheckPoint) key() ckKey {
	return ckKey{c.Group, c.Topic, c.QueueID, c.StartOffset, c.PopTime}
}

// ReviveTime is when the un-acked messages come back (ms).
func (c *PopCheckPoint) ReviveTime() int64 { return c.PopTime + c.InvisibleTime }

func (c *PopCheckPoint) index(offset int64) int {
	for i, o := range c.Offsets {
		if o == offset {
			return i
		}
	}
	return -1
}

func (c *PopCheckPoint) done() bool {
	return c.Acked == (uint64(1)<<len(c.Offsets))-1
}

func (c *PopCheckPoint) unacked() int {
	n := 0
	for i := range c.Offsets {
		if c.Acked&(1<<i) == 0 {
			n++
		}
	}
	return n
}

// journal is the checkpoint table's durability: an append-only file of
// checkpoints and acks (one JSON object a line), replayed at start and
// rewritten with the live checkpoints only once it outgrows compactBytes.
// RocketMQ 5 writes the same two records as messages of its revive topic;
// a file of its own keeps the commit log free of records no client reads
// and makes replay independent of the consume queues' recovery.
type journal struct {
	path string
	f    *os.File
	w    *bufio.Writer
	size int64
}

// journalRecord is one line: a checkpoint (Ck) or an ack of one offset of
// the checkpoint named by the other fields.
type journalRecord struct {
	Ck     *PopCheckPoint `json:"ck,omitempty"`
	Group  string         `json:"c,omitempty"`
	Topic  string         `json:"t,omitempty"`
	Queue  int32          `json:"q,omitempty"`
	Start  int64          `json:"so,omitempty"`
	Pop    int64          `json:"pt,omitempty"`
	Offset int64          `json:"ao,omitempty"`
}

// compactBytes is the journal size past which it is rewritten.
const compactBytes = 16 << 20

// openJournal replays dir/checkpoint.log into a table of live checkpoints
// and returns the journal rewritten with them. A torn last line (a crash
// mid-write) is dropped: its checkpoint's messages were not yet answered
// to the client, or its ack's message comes back (at least once).
func openJournal(dir string) (*journal, map[ckKey]*PopCheckPoint, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("pop journal dir: %w", err)
	}
	path := filepath.Join(dir, "checkpoint.log")
	cks := map[ckKey]*PopCheckPoint{}
	if data, err := os.ReadFile(path); err == nil {
		for _, line := range bytes.Split(data, []byte{'\n'}) {
			if len(line) == 0 {
				continue
			}
			var r journalRecord
			if json.Unmarshal(line, &r) != nil {
				continue
			}
			if r.Ck != nil {
				if len(r.Ck.Offsets) == 0 || len(r.Ck.Offsets) > 64 {
					continue
				}
				cks[r.Ck.key()] = r.Ck
				continue
			}
			k := ckKey{r.Group, r.Topic, r.Queue, r.Start, r.Pop}
			if ck, ok := cks[k]; ok {
				if i := ck.index(r.Offset); i >= 0 {
					ck.Acked |= 1 << i
				}
				if ck.done() {
					delete(cks, k)
				}
			}
		}
	} else if !os.IsNotExist(err) {
		return nil, nil, fmt.Errorf("read pop journal: %w", err)
	}
	j := &journal{path: path}
	if err := j.rewrite(cks); err != nil {
		return nil, nil, err
	}
	return j, cks, nil
}

// rewrite replaces the file with the live checkpoints.
func (j *journal) rewrite(cks map[ckKey]*PopCheckPoint) error {
	tmp := j.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("rewrite pop journal: %w", err)
	}
	w := bufio.NewWriter(f)
	var size int64
	for _, ck := range cks {
		b, _ := json.Marshal(journalRecord{Ck: ck})
		n, _ := w.Write(append(b, '\n'))
		size += int64(n)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("rewrite pop journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("rewrite pop journal: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		f.Close()
		return fmt.Errorf("rewrite pop journal: %w", err)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f, j.w, j.size = f, bufio.NewWriterSize(f, 64<<10), size
	return nil
}

func (j *journal) appendCk(ck *PopCheckPoint) error {
	b, _ := json.Marshal(journalRecord{Ck: ck})
	return j.append(b)
}

func (j *journal) appendAck(k ckKey, offset int64) error {
	b, _ := json.Marshal(journalRecord{Group: k.group, Topic: k.topic, Queue: k.queueID, Start: k.startOffset, Pop: k.popTime, Offset: offset})
	return j.append(b)
}

func (j *journal) append(b []byte) error {
	n, err := j.w.Write(append(b, '\n'))
	j.size += int64(n)
	if err != nil {
		return fmt.Errorf("append pop journal: %w", err)
	}
	return nil
}

// flush hands the buffered records to the OS (page cache): a killed
// process loses none of them once flushed.
func (j *journal) flush() error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("flush pop journal: %w", err)
	}
	return nil
}

func (j *journal) close() error {
	err := j.flush()
	if e := j.f.Sync(); err == nil && e != nil {
		err = e
	}
	if e := j.f.Close(); err == nil && e != nil {
		err = e
	}
	return err
}
