package supervisor_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors/acl"
	"github.com/sluice-mq/sluice/actors/metadata"
	"github.com/sluice-mq/sluice/actors/namesrv"
	"github.com/sluice-mq/sluice/remoting"
	"github.com/sluice-mq/sluice/supervisor"
	"github.com/sluice-mq/sluice/supervisor/brokertest"
	"github.com/sluice-mq/sluice/supervisor/brokertest/poll"
)

const aclTestFile = `accounts:
  - accessKey: brokerAdmin
    secretKey: brokerSecret1
    admin: true
  - accessKey: producerAK
    secretKey: producerSK1
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - AclTopic=PUB|SUB
      - AclTopic2=PUB
      - DeniedTopic=DENY
  - accessKey: consumerAK
    secretKey: consumerSK1
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms:
      - AclTopic=SUB
    groupPerms:
      - AclGroup=SUB
`

var (
	adminCreds    = remoting.Credentials{AccessKey: "brokerAdmin", SecretKey: "brokerSecret1"}
	producerCreds = primitive.Credentials{AccessKey: "producerAK", SecretKey: "producerSK1"}
	consumerCreds = primitive.Credentials{AccessKey: "consumerAK", SecretKey: "consumerSK1"}
)

type aclCluster struct {
	ns   *supervisor.NameServer
	b    *brokertest.Broker
	file string
}

// startACLCluster starts a name server and a broker, both with ACL on over
// the same plain_acl.yml (polled every 20 ms), the broker registering with
// its own admin account.
func startACLCluster(t testing.TB, content string) *aclCluster {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(home, "conf", "plain_acl.yml")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	ns, err := supervisor.StartNameServerWithOptions("127.0.0.1:0", zerolog.Nop(), supervisor.NameServerOptions{
		ACL: &acl.Config{Home: home, WatchInterval: 20 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Shutdown(context.Background()) })
	cfg := brokertest.Config(t)
	cfg.NamesrvAddr = ns.Addr()
	cfg.AclEnable = true
	cfg.RocketmqHome = home
	cfg.AclFileWatchIntervalMillis = 20
	cfg.BrokerAccessKey, cfg.BrokerSecretKey = adminCreds.AccessKey, adminCreds.SecretKey
	b := brokertest.Start(t, cfg, supervisor.Options{})
	poll.Until(t, "broker registered", func() bool { return len(ns.Routes().LiveBrokers()) > 0 })
	return &aclCluster{ns: ns, b: b, file: file}
}

func (c *aclCluster) stored(topic string) int64 {
	var n int64
	for q := int32(0); q < 16; q++ {
		n += c.b.Store().MaxOffsetInQueue(topic, q)
	}
	return n
}

// aclInvoke sends one request to addr, signed with creds unless nil.
func aclInvoke(t *testing.T, addr string, creds *remoting.Credentials, req *remoting.Command) *remoting.Command {
	t.Helper()
	c, err := remoting.Dial(context.Background(), addr, remoting.ClientOptions{Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Invoke(context.Background(), req, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func wantACLRefusal(t *testing.T, what string, err error, remark string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), "CODE: 1,") || !strings.Contains(err.Error(), "org.apache.rocketmq.acl.common.AclException: "+remark) {
		t.Fatalf("%s: err = %v, want SYSTEM_ERROR with AclException %q", what, err, remark)
	}
}

// The unmodified Go client with the right credentials produces and
// consumes; wrong, missing or insufficient credentials are refused with
// RocketMQ's code and remark, and nothing is stored.
func TestACLGoClient(t *testing.T) {
	c := startACLCluster(t, aclTestFile)
	ctx := context.Background()
	p := newProducer(t, c.ns.Addr(), producer.WithCredentials(producerCreds))
	for i := 0; i < 10; i++ {
		res, err := p.SendSync(ctx, primitive.NewMessage("AclTopic", []byte("m"+string(rune('0'+i)))))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("signed send %d: %v %v", i, err, res)
		}
	}
	rec := &received{msgs: map[string]*primitive.MessageExt{}}
	newPushConsumer(t, c.ns.Addr(), "AclGroup", "AclTopic", rec, consumer.WithCredentials(consumerCreds))
	poll.Within(t, 60*time.Second, "signed consumer receives", func() bool { return rec.count() == 10 })

	_, err := p.SendSync(ctx, primitive.NewMessage("DeniedTopic", []byte("x")))
	wantACLRefusal(t, "denied topic", err, "No default permission for topic:DeniedTopic")

	wrong := newProducer(t, c.ns.Addr(), producer.WithCredentials(primitive.Credentials{AccessKey: "producerAK", SecretKey: "guessed-secret"}), producer.WithRetry(0))
	_, err = wrong.SendSync(ctx, primitive.NewMessage("AclTopic2", []byte("x")))
	wantACLRefusal(t, "wrong secret", err, "Check signature failed for accessKey=producerAK")

	anon := newProducer(t, c.ns.Addr(), producer.WithRetry(0))
	_, err = anon.SendSync(ctx, primitive.NewMessage("AclTopic2", []byte("x")))
	wantACLRefusal(t, "no credentials", err, "No accessKey is configured")

	unknown := newProducer(t, c.ns.Addr(), producer.WithCredentials(primitive.Credentials{AccessKey: "stranger1", SecretKey: "whatever1"}), producer.WithRetry(0))
	_, err = unknown.SendSync(ctx, primitive.NewMessage("AclTopic2", []byte("x")))
	wantACLRefusal(t, "unknown key", err, "No acl config for stranger1")

	if n := c.stored("DeniedTopic") + c.stored("AclTopic2"); n != 0 {
		t.Fatalf("refused sends stored %d messages", n)
	}

	// A non-admin account's admin call: the Go admin client ignores the
	// answer, so the topic's absence proves the refusal; a raw signed
	// call shows the code and remark.
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{c.ns.Addr()})), admin.WithCredentials(producerCreds))
	if err != nil {
		t.Fatal(err)
	}
	if err := adm.CreateTopic(ctx, admin.WithTopicCreate("MadeByNonAdmin"), admin.WithBrokerAddrCreate(c.b.Addr())); err != nil {
		t.Fatal(err)
	}
	create := remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{"topic": "MadeByNonAdmin", "defaultTopic": "TBW102",
		"readQueueNums": "1", "writeQueueNums": "1", "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}, nil)
	resp := aclInvoke(t, c.b.Addr(), &remoting.Credentials{AccessKey: "producerAK", SecretKey: "producerSK1"}, create)
	if resp.ResponseCode() != remoting.SystemError || resp.Remark != "org.apache.rocketmq.acl.common.AclException: Need admin permission for request code=17, but accessKey=producerAK is not" {
		t.Fatalf("non-admin UPDATE_AND_CREATE_TOPIC: %v %q", resp.ResponseCode(), resp.Remark)
	}
	all := aclInvoke(t, c.b.Addr(), &adminCreds, remoting.NewRequest(remoting.GetAllTopicConfig, nil, nil))
	if all.ResponseCode() != remoting.Success || strings.Contains(string(all.Body), "MadeByNonAdmin") || !strings.Contains(string(all.Body), "AclTopic") {
		t.Fatalf("GET_ALL_TOPIC_CONFIG as admin: %v %q", all.ResponseCode(), all.Body)
	}
	if resp := aclInvoke(t, c.b.Addr(), nil, remoting.NewRequest(remoting.GetAllTopicConfig, nil, nil)); resp.ResponseCode() != remoting.SystemError {
		t.Fatalf("anonymous GET_ALL_TOPIC_CONFIG: %v %q", resp.ResponseCode(), resp.Remark)
	}
	if resp := aclInvoke(t, c.b.Addr(), &remoting.Credentials{AccessKey: "producerAK", SecretKey: "producerSK1"}, remoting.NewRequest(remoting.SetFault, nil, nil)); !strings.Contains(resp.Remark, "Need admin permission for request code=10002") {
		t.Fatalf("non-admin fault injection: %v %q", resp.ResponseCode(), resp.Remark)
	}
	if c.b.Logs.Count("acl: request refused") == 0 {
		t.Fatal("no refusal logged")
	}
}

// White-listed addresses work without a signature, and every change to
// the file applies without a restart; a malformed file keeps the accounts.
func TestACLWhiteAddressesAndHotReload(t *testing.T) {
	c := startACLCluster(t, aclTestFile)
	ctx := context.Background()
	anon := newProducer(t, c.ns.Addr(), producer.WithRetry(0))
	_, err := anon.SendSync(ctx, primitive.NewMessage("AclTopic", []byte("x")))
	wantACLRefusal(t, "before the white list", err, "No accessKey is configured")

	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(c.file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("globalWhiteRemoteAddresses:\n  - 127.0.0.*\n" + aclTestFile)
	poll.Until(t, "global white address applies", func() bool {
		res, err := anon.SendSync(ctx, primitive.NewMessage("AclTopic", []byte("white")))
		return err == nil && res.Status == primitive.SendOK
	})

	// An account's white address: its requests pass unsigned (the secret
	// is wrong) and unchecked, as RocketMQ's validate returns early.
	write(strings.Replace(aclTestFile, "    secretKey: producerSK1\n", "    secretKey: producerSK1\n    whiteRemoteAddress: 127.0.0.1\n", 1))
	wrong := newProducer(t, c.ns.Addr(), producer.WithCredentials(primitive.Credentials{AccessKey: "producerAK", SecretKey: "guessed-secret"}), producer.WithRetry(0))
	poll.Until(t, "account white address applies", func() bool {
		res, err := wrong.SendSync(ctx, primitive.NewMessage("AclTopic", []byte("acct-white")))
		return err == nil && res.Status == primitive.SendOK
	})
	poll.Until(t, "global white address removed", func() bool {
		_, err := anon.SendSync(ctx, primitive.NewMessage("AclTopic", []byte("x")))
		return err != nil
	})

	write("accounts: [ {accessKey: short, secretKey: x} ]\n")
	// Once the broker has read (and refused) the malformed file, the
	// accounts must be the ones loaded before.
	poll.Until(t, "malformed file logged", func() bool { return c.b.Logs.Count("ACL file malformed") > 0 })
	if res, err := wrong.SendSync(ctx, primitive.NewMessage("AclTopic", []byte("kept"))); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("a malformed file changed the accounts: %v", err)
	}
}

// A forged REGISTER_BROKER (raw TCP, no or a non-admin signature, a fake
// address) is refused and the route is unchanged; the broker's own signed
// registration is accepted, and look-ups stay open to anyone.
func TestACLNamesrvRefusesForgedRegistration(t *testing.T) {
	c := startACLCluster(t, aclTestFile)
	p := newProducer(t, c.ns.Addr(), producer.WithCredentials(producerCreds))
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("AclTopic", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	routeAddrs := func() string {
		r, ok := c.ns.Routes().PickupTopicRouteData("AclTopic")
		if !ok {
			return ""
		}
		var out []string
		for _, bd := range r.BrokerDatas {
			for _, a := range bd.BrokerAddrs {
				out = append(out, a)
			}
		}
		return strings.Join(out, ",")
	}
	poll.Until(t, "route of AclTopic", func() bool { return routeAddrs() == c.b.Addr() })

	forged := func() *remoting.Command {
		body := namesrv.RegisterBrokerBody{FilterServerList: []string{}}
		body.TopicConfigSerializeWrapper.TopicConfigTable = map[string]metadata.TopicConfig{"AclTopic": {TopicName: "AclTopic", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 6}}
		data := body.Encode()
		req := remoting.NewRequest(remoting.RegisterBroker, nil, data)
		(&remoting.RegisterBrokerRequestHeader{BrokerName: "broker-test", BrokerAddr: "10.66.66.66:10911",
			ClusterName: "DefaultCluster", HAServerAddr: "10.66.66.66:10912"}).Encode(req)
		return req
	}
	for _, creds := range []*remoting.Credentials{nil, {AccessKey: "producerAK", SecretKey: "producerSK1"}, {AccessKey: "brokerAdmin", SecretKey: "guessed-secret"}} {
		resp := aclInvoke(t, c.ns.Addr(), creds, forged())
		if resp.ResponseCode() != remoting.SystemError || !strings.HasPrefix(resp.Remark, "org.apache.rocketmq.acl.common.AclException: ") {
			t.Fatalf("forged REGISTER_BROKER (%v): %v %q", creds, resp.ResponseCode(), resp.Remark)
		}
	}
	del := remoting.NewRequest(remoting.DeleteTopicInNamesrv, map[string]string{"topic": "AclTopic"}, nil)
	if resp := aclInvoke(t, c.ns.Addr(), nil, del); resp.ResponseCode() != remoting.SystemError {
		t.Fatalf("anonymous DELETE_TOPIC_IN_NAMESRV: %v %q", resp.ResponseCode(), resp.Remark)
	}
	if got := routeAddrs(); got != c.b.Addr() {
		t.Fatalf("route after forged registrations: %q, want %q", got, c.b.Addr())
	}
	for addr := range c.ns.Routes().LiveBrokers() {
		if addr != c.b.Addr() {
			t.Fatalf("forged broker %s is live", addr)
		}
	}
	look := remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": "AclTopic"}, nil)
	if resp := aclInvoke(t, c.ns.Addr(), nil, look); resp.ResponseCode() != remoting.Success {
		t.Fatalf("anonymous route look-up: %v %q", resp.ResponseCode(), resp.Remark)
	}
}

// With ACL on, the embedded name server needs the broker's own account.
func TestACLEmbeddedNamesrvNeedsBrokerCredentials(t *testing.T) {
	cfg := brokertest.Config(t)
	cfg.AclEnable = true
	cfg.NamesrvListenPort = freePort(t)
	cfg.RocketmqHome = t.TempDir()
	if err := os.MkdirAll(filepath.Join(cfg.RocketmqHome, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := supervisor.Start(cfg, supervisor.Options{Log: zerolog.Nop()}); err == nil || !strings.Contains(err.Error(), "brokerAccessKey") {
		t.Fatalf("start without brokerAccessKey: %v", err)
	}
	if err := os.WriteFile(filepath.Join(cfg.RocketmqHome, "conf", "plain_acl.yml"), []byte(aclTestFile), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.BrokerAccessKey, cfg.BrokerSecretKey = adminCreds.AccessKey, adminCreds.SecretKey
	b := brokertest.Start(t, cfg, supervisor.Options{})
	// The broker's signed registration reaches its embedded name server.
	poll.Until(t, "broker registered", func() bool {
		info := aclInvoke(t, b.NamesrvAddr(), nil, remoting.NewRequest(remoting.GetBrokerClusterInfo, nil, nil))
		return info.ResponseCode() == remoting.Success && strings.Contains(string(info.Body), b.Addr())
	})
	p := newProducer(t, b.NamesrvAddr(), producer.WithCredentials(producerCreds))
	if res, err := p.SendSync(context.Background(), primitive.NewMessage("AclTopic", []byte("x"))); err != nil || res.Status != primitive.SendOK {
		t.Fatalf("send through the embedded name server: %v %v", err, res)
	}
}

// The ACL admin codes, for admin accounts only, rewrite the file.
func TestACLAdminCodes(t *testing.T) {
	c := startACLCluster(t, aclTestFile)
	addr := c.b.Addr()
	producerRaw := &remoting.Credentials{AccessKey: "producerAK", SecretKey: "producerSK1"}
	create := func() *remoting.Command {
		return remoting.NewRequest(remoting.UpdateAndCreateACLConfig, map[string]string{"accessKey": "createdAK", "secretKey": "createdSK1",
			"admin": "false", "defaultTopicPerm": "PUB", "defaultGroupPerm": "SUB", "topicPerms": "AclTopic=PUB,DeniedTopic=DENY"}, nil)
	}
	if resp := aclInvoke(t, addr, producerRaw, create()); !strings.Contains(resp.Remark, "Need admin permission for request code=50") {
		t.Fatalf("non-admin UPDATE_AND_CREATE_ACL_CONFIG: %v %q", resp.ResponseCode(), resp.Remark)
	}
	if resp := aclInvoke(t, addr, &adminCreds, create()); resp.ResponseCode() != remoting.Success {
		t.Fatalf("UPDATE_AND_CREATE_ACL_CONFIG: %v %q", resp.ResponseCode(), resp.Remark)
	}
	p := newProducer(t, c.ns.Addr(), producer.WithCredentials(primitive.Credentials{AccessKey: "createdAK", SecretKey: "createdSK1"}))
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("AclTopic", []byte("x"))); err != nil {
		t.Fatalf("send as the created account: %v", err)
	}
	info := aclInvoke(t, addr, &adminCreds, remoting.NewRequest(remoting.GetBrokerClusterACLInfo, nil, nil))
	if info.ResponseCode() != remoting.Success || !strings.Contains(info.Ext("version"), `"counter":1`) || info.Ext("brokerName") != "broker-test" {
		t.Fatalf("GET_BROKER_CLUSTER_ACL_INFO: %v %v", info.ResponseCode(), info.ExtMap())
	}
	cfg := aclInvoke(t, addr, &adminCreds, remoting.NewRequest(acl.CodeGetBrokerClusterAclConfig, nil, nil))
	if cfg.ResponseCode() != remoting.Success || !strings.Contains(string(cfg.Body), `"accessKey":"createdAK"`) {
		t.Fatalf("GET_BROKER_CLUSTER_ACL_CONFIG: %v %s", cfg.ResponseCode(), cfg.Body)
	}
	white := remoting.NewRequest(remoting.UpdateGlobalWhiteAddrsConfig, map[string]string{"globalWhiteAddrs": "10.1.1.*,192.168.0.1-2", "aclFileFullPath": c.file}, nil)
	if resp := aclInvoke(t, addr, &adminCreds, white); resp.ResponseCode() != remoting.Success {
		t.Fatalf("UPDATE_GLOBAL_WHITE_ADDRS_CONFIG: %v %q", resp.ResponseCode(), resp.Remark)
	}
	del := remoting.NewRequest(remoting.DeleteACLConfig, map[string]string{"accessKey": "createdAK"}, nil)
	if resp := aclInvoke(t, addr, &adminCreds, del); resp.ResponseCode() != remoting.Success {
		t.Fatalf("DELETE_ACL_CONFIG: %v %q", resp.ResponseCode(), resp.Remark)
	}
	if resp := aclInvoke(t, addr, &adminCreds, del); resp.ResponseCode() != acl.DeleteAclConfigFailed {
		t.Fatalf("DELETE_ACL_CONFIG of a deleted account: %v %q", resp.ResponseCode(), resp.Remark)
	}
	b, err := os.ReadFile(c.file)
	if err != nil || strings.Contains(string(b), "createdAK") || !strings.Contains(string(b), "192.168.0.1-2") || !strings.Contains(string(b), "counter: 3") {
		t.Fatalf("file after the admin codes (%v):\n%s", err, b)
	}
}

// BenchmarkGoClientSendACL is the Go client's SendSync (64 senders, 1 KiB
// bodies, async flush) with ACL off and on in the same run: the price of
// signing on the client and verifying on the broker, end to end. To tell
// the two apart: SLUICE_ACL_BENCH_WHITE=1 white-lists 127.0.0.1 (the broker
// admits before verifying), SLUICE_ACL_BENCH_NOSIGN=1 gives the client no
// credentials.
//
//	go test -run '^$' -bench BenchmarkGoClientSendACL -benchtime 20000x -count 5 ./supervisor/
func BenchmarkGoClientSendACL(b *testing.B) {
	for _, on := range aclBenchOrder() {
		name := "acl=off"
		if on {
			name = "acl=on"
		}
		b.Run(name, func(b *testing.B) {
			var nsAddr string
			var opts []producer.Option
			if on {
				file := aclTestFile
				if os.Getenv("SLUICE_ACL_BENCH_WHITE") != "" {
					file = "globalWhiteRemoteAddresses: [127.0.0.1]\n" + file
				}
				c := startACLCluster(b, file)
				nsAddr = c.ns.Addr()
				if os.Getenv("SLUICE_ACL_BENCH_NOSIGN") == "" {
					opts = append(opts, producer.WithCredentials(producerCreds))
				}
			} else {
				ns, _ := startCluster(b, nil)
				nsAddr = ns.Addr()
			}
			p := newProducer(b, nsAddr, opts...)
			body := make([]byte, 1024)
			send := func() error {
				_, err := p.SendSync(context.Background(), primitive.NewMessage("AclTopic", body))
				return err
			}
			for i := 0; i < 8; i++ {
				if err := send(); err != nil {
					b.Fatalf("warm-up: %v", err)
				}
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for s := 0; s < 64; s++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if err := send(); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// aclBenchOrder runs off before on unless SLUICE_ACL_BENCH_ORDER=reverse:
// the clients of the first run are never shut down (see newProducer) and
// keep a little of the CPU, so the order is worth checking.
func aclBenchOrder() []bool {
	if os.Getenv("SLUICE_ACL_BENCH_ORDER") == "reverse" {
		return []bool{true, false}
	}
	return []bool{false, true}
}
