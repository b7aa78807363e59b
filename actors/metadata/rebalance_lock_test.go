package metadata

import (
	"reflect"
	"testing"
	"time"
)

func TestRebalanceLockOwnershipAndExpiry(t *testing.T) {
	cfg, clock := testConfig(t, "")
	m := NewRebalanceLockManager(cfg, 0)
	q0 := MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 0}
	q1 := MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 1}
	q2 := MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 2}

	if got := m.TryLockBatch("g", []MessageQueue{q0, q1, q0}, "A"); !reflect.DeepEqual(got, []MessageQueue{q0, q1}) {
		t.Fatalf("A locks %v", got)
	}
	if got := m.TryLockBatch("g", []MessageQueue{q0, q1, q2}, "B"); !reflect.DeepEqual(got, []MessageQueue{q2}) {
		t.Fatalf("B got %v, want only the free queue", got)
	}
	if got := m.TryLockBatch("other", []MessageQueue{q0}, "B"); len(got) != 1 {
		t.Fatal("locks are per group")
	}

	// A renews q0 at +40 s; at +61 s q1 (not renewed) is expired, q0 is not.
	clock.Advance(40 * time.Second)
	if !m.TryLock("g", q0, "A") {
		t.Fatal("renewal refused")
	}
	clock.Advance(21 * time.Second)
	if !m.IsLockedBy("g", q0, "A") || m.IsLockedBy("g", q1, "A") {
		t.Fatal("IsLockedBy after partial renewal")
	}
	if got := m.TryLockBatch("g", []MessageQueue{q0, q1}, "B"); !reflect.DeepEqual(got, []MessageQueue{q1}) {
		t.Fatalf("B after expiry got %v, want q1", got)
	}
	// An expired lock is still its owner's to renew when nobody took it.
	clock.Advance(61 * time.Second)
	if !m.TryLock("g", q2, "B") {
		t.Fatal("owner could not renew its expired lock")
	}

}

func TestRebalanceUnlockOnlyOwnQueues(t *testing.T) {
	cfg, _ := testConfig(t, "")
	m := NewRebalanceLockManager(cfg, 0)
	q0 := MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 0}
	q1 := MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 1}
	m.TryLock("g", q0, "A")
	m.TryLock("g", q1, "B")
	m.UnlockBatch("g", []MessageQueue{q0, q1}, "B")
	if !m.IsLockedBy("g", q0, "A") {
		t.Fatal("B released A's lock")
	}
	if m.IsLockedBy("g", q1, "B") || !m.TryLock("g", q1, "C") {
		t.Fatal("B's lock not released")
	}
	m.UnlockBatch("nope", []MessageQueue{q0}, "A") // unknown group: logged only
	if !m.IsLockedBy("g", q0, "A") {
		t.Fatal("unlock in another group released A's lock")
	}
}

func TestLockBatchBodies(t *testing.T) {
	body := []byte(`{"consumerGroup":"cg","clientId":"192.0.2.2@1","mqSet":[{"topic":"T","brokerName":"broker-a","queueId":3}]}`)
	req, err := DecodeLockBatchRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	want := LockBatchRequestBody{ConsumerGroup: "cg", ClientID: "192.0.2.2@1", MqSet: []MessageQueue{{"T", "broker-a", 3}}}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("decoded %+v", req)
	}
	if _, err := DecodeLockBatchRequest(nil); err == nil {
		t.Fatal("empty body accepted")
	}
	if _, err := DecodeLockBatchRequest([]byte(`{"mqSet":{}`)); err == nil {
		t.Fatal("bad body accepted")
	}
	if got := string(EncodeLockBatchResponse(req.MqSet)); got != `{"lockOKMQSet":[{"topic":"T","brokerName":"broker-a","queueId":3}]}` {
		t.Fatalf("response %s", got)
	}
	if got := string(EncodeLockBatchResponse(nil)); got != `{"lockOKMQSet":[]}` {
		t.Fatalf("empty response %s", got)
	}
}
