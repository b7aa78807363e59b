package ha

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// fakeLog is a slave log in memory: AppendRaw takes bytes at its end only.
type fakeLog struct{ b []byte }

func (f *fakeLog) MaxWroteOffset() int64 { return int64(len(f.b)) }
func (f *fakeLog) AppendRaw(at int64, data []byte) error {
	if at != int64(len(f.b)) {
		return errors.New("offset mismatch")
	}
	f.b = append(f.b, data...)
	return nil
}

// oneByte reads one byte at a time, so frames arrive cut everywhere.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}

// The master's frames, cut at every byte, decode to the same transfers;
// heartbeats (size 0) carry no bytes; the slave's log ends up as sent.
func TestTransferFramingRoundTrip(t *testing.T) {
	var stream bytes.Buffer
	var want []byte
	hdr := make([]byte, HeaderSize)
	off := int64(0)
	for i, n := range []int{5, 0, 300, 1, 0, 4096} {
		body := bytes.Repeat([]byte{byte(i + 1)}, n)
		PutHeader(hdr, off, n)
		stream.Write(hdr)
		stream.Write(body)
		want = append(want, body...)
		off += int64(n)
	}
	if got := binary.BigEndian.Uint64(stream.Bytes()[HeaderSize+5:]); got != 5 {
		t.Fatalf("second header's offset = %d, want 5 (big-endian int64)", got)
	}
	dec := NewDecoder(8192)
	c := &Client{log: &fakeLog{}}
	src := oneByte{&stream}
	for {
		_, err := dec.Fill(src)
		if _, derr := c.dispatch(dec); derr != nil {
			t.Fatal(derr)
		}
		if err == io.EOF {
			break
		}
	}
	if got := c.log.(*fakeLog).b; !bytes.Equal(got, want) {
		t.Fatalf("slave log = %d bytes, want %d", len(got), len(want))
	}
}

// A transfer for another offset than the slave's end is a mismatch.
func TestTransferOffsetMismatch(t *testing.T) {
	dec := NewDecoder(1024)
	var b bytes.Buffer
	hdr := make([]byte, HeaderSize)
	PutHeader(hdr, 0, 3)
	b.Write(hdr)
	b.WriteString("abc")
	PutHeader(hdr, 7, 1)
	b.Write(hdr)
	b.WriteString("x")
	_, _ = dec.Fill(&b)
	c := &Client{log: &fakeLog{}}
	if _, err := c.dispatch(dec); err == nil {
		t.Fatal("offset 7 after 3 bytes was accepted")
	}
}

// Reports: only the last whole 8-byte report of a read counts; a partial
// one waits for its rest.
func TestReportFraming(t *testing.T) {
	var b bytes.Buffer
	rep := make([]byte, ReportSize)
	for _, v := range []int64{10, 20, 1 << 40} {
		PutReport(rep, v)
		b.Write(rep)
	}
	PutReport(rep, 99)
	b.Write(rep[:3])
	var rr ReportReader
	off, ok, _ := rr.Read(&b)
	if !ok || off != 1<<40 {
		t.Fatalf("got %d %v, want the last whole report %d", off, ok, int64(1<<40))
	}
	b.Write(rep[3:])
	off, ok, _ = rr.Read(&b)
	if !ok || off != 99 {
		t.Fatalf("got %d %v, want 99 once whole", off, ok)
	}
}

// FuzzSlaveReader: whatever a master (or anything on the HA port) sends,
// the slave's reader never panics, and everything it appends was a whole
// transfer at the log's end.
func FuzzSlaveReader(f *testing.F) {
	hdr := make([]byte, HeaderSize)
	PutHeader(hdr, 0, 2)
	f.Add(append(hdr, 'h', 'i'))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := NewDecoder(256)
		c := &Client{log: &fakeLog{}}
		src := bytes.NewReader(data)
		for i := 0; i < 1000; i++ {
			_, err := dec.Fill(oneByte{src})
			if _, derr := c.dispatch(dec); derr != nil {
				return
			}
			if err != nil {
				return
			}
		}
	})
}
