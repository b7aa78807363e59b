package remoting

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

var captureFlag = flag.Bool("capture", false, "regenerate testdata/frames by driving rocketmq-client-go against a fake name server + broker")

// framesDir is testdata/frames at the repository root.
const framesDir = "../testdata/frames"

const (
	captureTopic         = "TestTopic"
	captureProducerGroup = "capture-pg"
	captureConsumerGroup = "capture-cg"
	captureBroker        = "broker-a"
)

// TestCapture drives the real Go client (producer SendSync, SendOneWay, a
// batch, then a push consumer) against a fake name server + broker built
// on this package, and stores the first request frame of each kind byte
// for byte. Besides the golden files it is an interoperability check: the
// client must accept every answer this package encodes.
func TestCapture(t *testing.T) {
	if !*captureFlag {
		t.Skip("regenerate with: go test ./remoting -run TestCapture -capture")
	}
	rlog.SetLogLevel("error")

	fs := startFakeRocketMQ(t)
	ns := primitive.NamesrvAddr{fs.addr}
	ctx := context.Background()

	p, err := rocketmq.NewProducer(
		producer.WithNameServer(ns),
		producer.WithGroupName(captureProducerGroup),
		producer.WithRetry(1),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}

	fs.phase.Store("sync")
	msg := primitive.NewMessage(captureTopic, []byte("hello sluice")).WithTag("TagA").WithKeys([]string{"key-1"})
	res, err := p.SendSync(ctx, msg)
	if err != nil {
		t.Fatalf("SendSync: %v", err)
	}
	if res.Status != primitive.SendOK || res.MsgID == "" {
		t.Fatalf("SendSync result: %+v", res)
	}

	fs.phase.Store("oneway")
	if err := p.SendOneWay(ctx, primitive.NewMessage(captureTopic, []byte("one way"))); err != nil {
		t.Fatalf("SendOneWay: %v", err)
	}
	fs.waitFor(t, "10_SEND_MESSAGE_oneway")

	fs.phase.Store("batch")
	res, err = p.SendSync(ctx,
		primitive.NewMessage(captureTopic, []byte("batch 1")),
		primitive.NewMessage(captureTopic, []byte("batch 2")))
	if err != nil {
		t.Fatalf("batch SendSync: %v", err)
	}
	if res.Status != primitive.SendOK {
		t.Fatalf("batch result: %+v", res)
	}

	fs.phase.Store("consumer")
	c, err := rocketmq.NewPushConsumer(
		consumer.WithNameServer(ns),
		consumer.WithGroupName(captureConsumerGroup),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromLastOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe(captureTopic, consumer.MessageSelector{}, func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("consumer Start: %v", err)
	}
	for _, name := range []string{"34_HEART_BEAT_consumer", "38_GET_CONSUMER_LIST_BY_GROUP",
		"14_QUERY_CONSUMER_OFFSET", "30_GET_MAX_OFFSET", "11_PULL_MESSAGE"} {
		fs.waitFor(t, name)
	}
	// A queue has an offset to persist once a pull answer came back: the
	// third pull of TestTopic (two queues) follows at least one answer.
	fs.waitUntil(t, "3 pulls of "+captureTopic, func() bool { return fs.pulls.Load() >= 3 })
	// Shutdown persists the consumer's offsets (UPDATE_CONSUMER_OFFSET).
	if err := c.Shutdown(); err != nil {
		t.Errorf("consumer Shutdown: %v", err)
	}
	fs.waitFor(t, "15_UPDATE_CONSUMER_OFFSET")
	if err := p.Shutdown(); err != nil {
		t.Errorf("producer Shutdown: %v", err)
	}
	fs.stop()

	fs.write(t)
}

// fakeRocketMQ answers as a name server and as broker-a on one port, as
// the Java broker does, and keeps the first raw frame of each request kind.
type fakeRocketMQ struct {
	ln    net.Listener
	addr  string
	phase atomic.Value // string: what the test is driving now
	pulls atomic.Int32 // PULL_MESSAGE requests for captureTopic

	mu        sync.Mutex
	frames    map[string][]byte
	clientIDs []string
	offset    int64

	quit  chan struct{}
	wg    sync.WaitGroup
	conns map[net.Conn]struct{}
}

func startFakeRocketMQ(t *testing.T) *fakeRocketMQ {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeRocketMQ{ln: ln, addr: ln.Addr().String(), frames: map[string][]byte{},
		quit: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	fs.phase.Store("start")
	fs.wg.Add(1)
	go func() {
		defer fs.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			fs.mu.Lock()
			fs.conns[nc] = struct{}{}
			fs.mu.Unlock()
			fs.wg.Add(1)
			go fs.serve(nc)
		}
	}()
	t.Cleanup(fs.stop)
	return fs
}

func (fs *fakeRocketMQ) stop() {
	select {
	case <-fs.quit:
		return
	default:
	}
	close(fs.quit)
	fs.ln.Close()
	fs.mu.Lock()
	for nc := range fs.conns {
		nc.Close()
	}
	fs.mu.Unlock()
	fs.wg.Wait()
}

// serve reads raw frames itself (to keep their exact bytes) and answers
// through a Conn.
func (fs *fakeRocketMQ) serve(nc net.Conn) {
	defer fs.wg.Done()
	conn := NewConn(nc, ConnOptions{})
	defer conn.Close(nil)
	for {
		var lenBuf [4]byte
		if _, err := io.ReadFull(nc, lenBuf[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(lenBuf[:])
		if n < 4 || n > DefaultMaxFrameSize {
			return
		}
		frame := make([]byte, 4+n)
		copy(frame, lenBuf[:])
		if _, err := io.ReadFull(nc, frame[4:]); err != nil {
			return
		}
		req, err := Decode(frame[4:])
		if err != nil {
			panic(fmt.Sprintf("undecodable frame from the Go client: %v: %q", err, frame))
		}
		fs.record(req, frame)
		fs.wg.Add(1)
		go func() {
			defer fs.wg.Done()
			if resp := fs.answer(req); resp != nil {
				_ = conn.Send(resp)
			}
		}()
	}
}

func (fs *fakeRocketMQ) record(req *Command, frame []byte) {
	// Consumers work on %RETRY%<group> too, in an order that varies from
	// run to run; keeping TestTopic's frames only makes the set stable.
	if strings.HasPrefix(req.Ext("topic"), "%RETRY%") {
		return
	}
	name := fmt.Sprintf("%d_%s", req.Code, req.RequestCode())
	switch req.RequestCode() {
	case PullMessage:
		fs.pulls.Add(1)
	case SendMessage:
		if ph := fs.phase.Load().(string); ph == "oneway" {
			name += "_oneway"
		}
	case HeartBeat:
		var hb struct {
			ClientID        string            `json:"clientID"`
			ConsumerDataSet []json.RawMessage `json:"consumerDataSet"`
		}
		if err := json.Unmarshal(req.Body, &hb); err == nil {
			fs.mu.Lock()
			if !slices.Contains(fs.clientIDs, hb.ClientID) {
				fs.clientIDs = append(fs.clientIDs, hb.ClientID)
			}
			fs.mu.Unlock()
			if len(hb.ConsumerDataSet) > 0 {
				name += "_consumer"
			}
		}
	}
	fs.mu.Lock()
	if _, ok := fs.frames[name]; !ok {
		fs.frames[name] = frame
	}
	fs.mu.Unlock()
}

func (fs *fakeRocketMQ) has(name string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, ok := fs.frames[name]
	return ok
}

func (fs *fakeRocketMQ) waitFor(t *testing.T, name string) {
	t.Helper()
	fs.waitUntil(t, name, func() bool { return fs.has(name) })
}

func (fs *fakeRocketMQ) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	poll.Until(t, what, cond)
}

func (fs *fakeRocketMQ) answer(req *Command) *Command {
	ok := func() *Command { return NewResponse(req, Success, "") }
	switch req.RequestCode() {
	case GetRouteInfoByTopic:
		topic := req.Ext("topic")
		queues := 2
		if strings.HasPrefix(topic, "%RETRY%") {
			queues = 1
		}
		resp := ok()
		// brokerAddrs compact: the Go client splits the raw text.
		resp.Body = fmt.Appendf(nil, `{"brokerDatas":[{"brokerAddrs":{"0":"%s"},"brokerName":"%s","cluster":"DefaultCluster"}],`+
			`"filterServerTable":{},"queueDatas":[{"brokerName":"%s","perm":6,"readQueueNums":%d,"topicSysFlag":0,"writeQueueNums":%d}]}`,
			fs.addr, captureBroker, captureBroker, queues, queues)
		return resp
	case SendMessage, SendBatchMessage:
		q := req.Ext("queueId")
		if req.RequestCode() == SendBatchMessage {
			q = req.Ext("e")
		}
		fs.mu.Lock()
		off := fs.offset
		fs.offset++
		fs.mu.Unlock()
		resp := ok()
		resp.SetExt("msgId", fmt.Sprintf("7F000001%08X%016X", fs.ln.Addr().(*net.TCPAddr).Port, off*100))
		resp.SetExt("queueId", q)
		resp.SetExt("queueOffset", strconv.FormatInt(off, 10))
		resp.SetExt("MSG_REGION", "DefaultRegion")
		resp.SetExt("TRACE_ON", "false")
		return resp
	case HeartBeat, UpdateConsumerOffset, UnregisterClient, ConsumerSendMsgBack, EndTransaction:
		return ok()
	case GetConsumerListByGroup:
		fs.mu.Lock()
		ids := slices.Clone(fs.clientIDs)
		fs.mu.Unlock()
		body, _ := json.Marshal(map[string][]string{"consumerIdList": ids})
		resp := ok()
		resp.Body = body
		return resp
	case QueryConsumerOffset:
		return NewResponse(req, QueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
	case GetMaxOffset, GetMinOffset, SearchOffsetByTimestamp:
		resp := ok()
		resp.SetExt("offset", "0")
		return resp
	case PullMessage:
		// A short long-poll: enough to keep the consumer from spinning.
		select {
		case <-time.After(500 * time.Millisecond):
		case <-fs.quit:
			return nil
		}
		resp := NewResponse(req, PullNotFound, "OFFSET_OVERFLOW_ONE")
		resp.SetExt("nextBeginOffset", req.Ext("queueOffset"))
		resp.SetExt("minOffset", "0")
		resp.SetExt("maxOffset", "0")
		resp.SetExt("suggestWhichBrokerId", "0")
		return resp
	}
	return NewResponse(req, RequestCodeNotSupported, fmt.Sprintf(" request type %d not supported", req.Code))
}

// write replaces every .bin in framesDir with the captured frames.
func (fs *fakeRocketMQ) write(t *testing.T) {
	if err := os.MkdirAll(framesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(framesDir, "*.bin"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	names := make([]string, 0, len(fs.frames))
	for name := range fs.frames {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(framesDir, name+".bin"), fs.frames[name], 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s.bin (%d bytes)", name, len(fs.frames[name]))
	}
}
