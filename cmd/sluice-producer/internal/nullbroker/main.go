// Command nullbroker is a benchmark instrument, not a broker: a remoting
// server that answers every SEND_MESSAGE (and SEND_MESSAGE_V2) SEND_OK at
// once and stores nothing, with a name server that routes every topic to
// it. Driven by sluice-producer it measures what the producer and the
// machine allow — the rate no broker could beat with that client on those
// cores — so a broker's figures can be read as a share of it
// (.ci/peer_bench.sh prints it beside Sluice and NATS).
//
// It does the least a remoting server must: one goroutine per connection
// reads frames, decodes each, and writes the answers it has made whenever
// the read buffer holds no further whole frame, so one write carries the
// answers of all the requests a read brought in. Every other request code
// is answered REQUEST_CODE_NOT_SUPPORTED.
//
//	go run ./cmd/sluice-producer/internal/nullbroker -n 127.0.0.1:19876 -b 127.0.0.1:19911
//	go run ./cmd/sluice-producer -n 127.0.0.1:19876 -s 1024 -w 64 --connections 64 -d 10s
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/sluice-mq/sluice/remoting"
)

func main() {
	nsAddr := flag.String("n", "127.0.0.1:9876", "name server address to listen on")
	brokerAddr := flag.String("b", "127.0.0.1:10911", "broker address to listen on")
	queues := flag.Int("queues", 8, "write queues routed per topic")
	flag.Parse()
	ns, err := net.Listen("tcp", *nsAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nullbroker:", err)
		os.Exit(1)
	}
	br, err := net.Listen("tcp", *brokerAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nullbroker:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "nullbroker: name server %s, broker %s: every send is answered SEND_OK and nothing is stored\n",
		ns.Addr(), br.Addr())
	s := newServer(br.Addr().String(), *queues)
	go s.accept(ns, s.route)
	s.accept(br, s.send)
}

// server answers for both listeners.
type server struct {
	routeBody []byte
	offset    atomic.Int64 // a queue offset for each answer, as a broker's grows
}

func newServer(brokerAddr string, queues int) *server {
	return &server{routeBody: []byte(fmt.Sprintf(
		`{"brokerDatas":[{"brokerAddrs":{"0":%q},"brokerName":"nullbroker","cluster":"DefaultCluster"}],`+
			`"filterServerTable":{},"queueDatas":[{"brokerName":"nullbroker","perm":6,"readQueueNums":%d,"topicSysFlag":0,"writeQueueNums":%d}]}`,
		brokerAddr, queues, queues))}
}

// route is the name server: every topic is routed to the broker.
func (s *server) route(req *remoting.Command) *remoting.Command {
	if req.RequestCode() != remoting.GetRouteInfoByTopic {
		return remoting.NewResponse(req, remoting.RequestCodeNotSupported, "nullbroker's name server only routes topics")
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = s.routeBody
	return resp
}

// send is the broker: SEND_OK with the header a broker's answer carries.
func (s *server) send(req *remoting.Command) *remoting.Command {
	switch req.RequestCode() {
	case remoting.SendMessage, remoting.SendMessageV2:
	default:
		return remoting.NewResponse(req, remoting.RequestCodeNotSupported, "nullbroker only answers sends")
	}
	queueID := req.Ext("queueId")
	if queueID == "" {
		queueID = req.Ext("e") // SEND_MESSAGE_V2's short names
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields = map[string]string{
		"msgId": "7F00000100002A9F0000000000000000", "queueId": queueID,
		"queueOffset": strconv.FormatInt(s.offset.Add(1), 10), "MSG_REGION": "DefaultRegion", "TRACE_ON": "true",
	}
	return resp
}

func (s *server) accept(ln net.Listener, answer func(*remoting.Command) *remoting.Command) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			if err := serveConn(nc, answer); err != nil && !errors.Is(err, io.EOF) {
				fmt.Fprintf(os.Stderr, "nullbroker: %s: %v\n", nc.RemoteAddr(), err)
			}
			nc.Close()
		}()
	}
}

// maxFrame bounds a request frame, as a broker's remoting layer does.
const maxFrame = remoting.DefaultMaxFrameSize

// frameStep is how much of a frame is read, and its buffer grown, at a
// time, so that the buffer follows the bytes that have arrived rather than
// the length the peer claims.
const frameStep = 64 << 10

// serveConn reads requests and writes their answers on one goroutine.
// It reads frames itself rather than with remoting.FrameReader, which
// gives each frame a buffer of its own (a command stays valid after later
// reads): an allocation per request that a ceiling should not pay (with
// it, 0.74-0.80 of this rate at 16 x 256). Here one buffer is reused.
func serveConn(nc net.Conn, answer func(*remoting.Command) *remoting.Command) error {
	r := bufio.NewReaderSize(nc, 32<<10)
	var frame, out []byte
	for {
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(l[:]))
		if n < 4 || n > maxFrame {
			return fmt.Errorf("frame length %d", n)
		}
		frame = frame[:0]
		for len(frame) < n {
			k := min(n-len(frame), frameStep)
			frame = slices.Grow(frame, k)
			m, err := io.ReadFull(r, frame[len(frame):len(frame)+k])
			frame = frame[:len(frame)+m]
			if err != nil {
				return err
			}
		}
		req, err := remoting.Decode(frame)
		if err != nil {
			return err
		}
		if !req.IsOneway() {
			if out, err = answer(req).AppendFrame(out); err != nil {
				return err
			}
		}
		// Written once no further whole frame is buffered (the next read
		// may wait), or once enough has gathered.
		if len(out) > 0 && (!wholeFrameBuffered(r) || len(out) >= 64<<10) {
			if _, err := nc.Write(out); err != nil {
				return err
			}
			out = out[:0]
		}
	}
}

// wholeFrameBuffered says whether r holds the whole next frame, so that
// reading it cannot wait for the peer.
func wholeFrameBuffered(r *bufio.Reader) bool {
	n := r.Buffered()
	if n < 4 {
		return false
	}
	l, _ := r.Peek(4)
	return int64(n) >= 4+int64(binary.BigEndian.Uint32(l))
}
