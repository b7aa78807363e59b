package acl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/remoting"
)

func TestRemoteAddressPatterns(t *testing.T) {
	cases := []struct {
		pattern string
		yes, no []string
	}{
		{"*", []string{"1.2.3.4", "::1"}, nil},
		{"", nil, []string{"1.2.3.4"}},
		{"192.168.0.1", []string{"192.168.0.1", "::ffff:192.168.0.1"}, []string{"192.168.0.2"}},
		{"192.168.0.{1,2}", []string{"192.168.0.1", "192.168.0.2"}, []string{"192.168.0.3"}},
		{"192.168.0.1,10.0.0.1", []string{"10.0.0.1"}, []string{"10.0.0.2"}},
		{"192.168.1.1-5", []string{"192.168.1.1", "192.168.1.5"}, []string{"192.168.1.6", "192.168.2.1"}},
		{"192.168.*.*", []string{"192.168.7.9"}, []string{"192.169.0.1"}},
		{"192.168.*", []string{"192.168.7.9"}, []string{"10.168.0.1"}},
		{"10.0.0.0/8", []string{"10.200.1.1"}, []string{"11.0.0.1"}},
		{"::1", []string{"::1", "0:0:0:0:0:0:0:1"}, []string{"::2", "127.0.0.1"}},
		{"1050:0000:0000:0000:0005:0600:300c:326b", []string{"1050::5:600:300c:326b"}, []string{"1050::5:600:300c:326c"}},
		{"1050::0005:0600:300c:{1,2}", []string{"1050::5:600:300c:2"}, []string{"1050::5:600:300c:3"}},
		{"5::7:6:1-200:*", []string{"5::7:6:1ff:ffff"}, []string{"5::7:6:201:1"}},
		{"5::7:6:*", []string{"5::7:6:abcd"}, []string{"5::7:7:1"}},
		{"fd00::/8", []string{"fd12::1"}, []string{"fe80::1"}},
	}
	for _, c := range cases {
		st, err := parseRemoteAddress(c.pattern)
		if err != nil {
			t.Errorf("%q: %v", c.pattern, err)
			continue
		}
		for _, a := range c.yes {
			if !st.match(parseClientAddr(a)) {
				t.Errorf("%q should match %s", c.pattern, a)
			}
		}
		for _, a := range c.no {
			if st.match(parseClientAddr(a)) {
				t.Errorf("%q should not match %s", c.pattern, a)
			}
		}
	}
	if !mustParse(t, "127.0.0.1").match(parseClientAddr("127.0.0.1:5555")) {
		t.Error("host:port not stripped")
	}
	for _, bad := range []string{"192.168.1.300", "1.2.3", "192.168.1.5-1", "abc", "192.168.{1,2}", "10.0.0.0/40", "1.2.3.4,x"} {
		if _, err := parseRemoteAddress(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func mustParse(t *testing.T, s string) *remoteAddressStrategy {
	st, err := parseRemoteAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return &st
}

func TestPermissions(t *testing.T) {
	for _, c := range []struct {
		needed, owned byte
		ok            bool
	}{
		{PermPub, PermPub, true}, {PermPub, PermSub, false}, {PermSub, PermPub | PermSub, true},
		{PermPub, PermDeny, false}, {PermAny, PermSub, true}, {PermAny, PermDeny, false},
	} {
		if checkPermission(c.needed, c.owned) != c.ok {
			t.Errorf("checkPermission(%d, %d) != %v", c.needed, c.owned, c.ok)
		}
	}
	if parsePerm("SUB|PUB") != PermPub|PermSub || parsePerm("nonsense") != PermDeny || parsePerm("") != PermDeny {
		t.Error("parsePerm")
	}
	if checkResourcePerms([]string{"a=PUB"}) != nil || checkResourcePerms([]string{"a=PUBX"}) == nil || checkResourcePerms([]string{"a"}) == nil {
		t.Error("checkResourcePerms")
	}
}

const testACL = `globalWhiteRemoteAddresses:
  - 10.10.103.*
accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - topicA=DENY
      - topicB=PUB|SUB
      - topicC=SUB
    groupPerms:
      - groupA=DENY
      - groupB=PUB|SUB
  - accessKey: rocketmq2
    secretKey: 12345678
    whiteRemoteAddress: 192.168.1.*
    admin: true
`

func newTestValidator(t testing.TB, mode Mode, content string) (*PlainAccessValidator, string) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(home, "conf", "plain_acl.yml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := NewPlainPermissionManager(Config{Home: home}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return NewPlainAccessValidator(m, mode, zerolog.Nop()), path
}

func signed(code remoting.RequestCode, ext map[string]string, body []byte, ak, sk string) *remoting.Command {
	cmd := remoting.NewRequest(code, ext, body)
	if ak != "" {
		remoting.Credentials{AccessKey: ak, SecretKey: sk}.Sign(cmd)
	}
	return cmd
}

// The refusals RocketMQ's PlainPermissionManager#validate gives, in its
// order, with the remark its broker answers.
func TestValidateAsRocketMQ(t *testing.T) {
	v, _ := newTestValidator(t, ModeBroker, testACL)
	const remote = "127.0.0.1:40000"
	send := func(topic string) map[string]string { return map[string]string{"a": "pg", "b": topic, "c": "TBW102"} }
	cases := []struct {
		name   string
		cmd    *remoting.Command
		remote string
		want   string // "" = admitted
	}{
		{"signed send to an allowed topic", signed(remoting.SendMessageV2, send("topicB"), []byte("x"), "RocketMQ", "12345678"), remote, ""},
		{"no accessKey", signed(remoting.SendMessageV2, send("topicB"), nil, "", ""), remote, "No accessKey is configured"},
		{"unknown key", signed(remoting.SendMessageV2, send("topicB"), nil, "nobody12", "12345678"), remote, "No acl config for nobody12"},
		{"wrong secret", signed(remoting.SendMessageV2, send("topicB"), nil, "RocketMQ", "wrong123"), remote, "Check signature failed for accessKey=RocketMQ"},
		{"denied topic", signed(remoting.SendMessageV2, send("topicA"), nil, "RocketMQ", "12345678"), remote, "No default permission for topic:topicA"},
		{"default topic perm", signed(remoting.SendMessage, map[string]string{"topic": "other"}, nil, "RocketMQ", "12345678"), remote, "No default permission for topic:other"},
		{"SUB topic refuses PUB", signed(remoting.SendMessage, map[string]string{"topic": "topicC"}, nil, "RocketMQ", "12345678"), remote, "No default permission for topic:topicC"},
		{"trace topic always writable", signed(remoting.SendMessage, map[string]string{"topic": "RMQ_SYS_TRACE_TOPIC"}, nil, "RocketMQ", "12345678"), remote, ""},
		{"pull needs group SUB", signed(remoting.PullMessage, map[string]string{"topic": "topicC", "consumerGroup": "groupA"}, nil, "RocketMQ", "12345678"), remote, "No default permission for group:groupA"},
		{"pull ok", signed(remoting.PullMessage, map[string]string{"topic": "topicC", "consumerGroup": "groupX"}, nil, "RocketMQ", "12345678"), remote, ""},
		{"non-admin admin code", signed(remoting.UpdateAndCreateTopic, map[string]string{"topic": "t"}, nil, "RocketMQ", "12345678"), remote, "Need admin permission for request code=17, but accessKey=RocketMQ is not"},
		{"admin admin code", signed(remoting.UpdateAndCreateTopic, map[string]string{"topic": "t"}, nil, "rocketmq2", "12345678"), remote, ""},
		{"admin white address, no signature", remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{"AccessKey": "rocketmq2"}, nil), "192.168.1.7:1", ""},
		{"global white address", remoting.NewRequest(remoting.DeleteTopicInBroker, nil, nil), "10.10.103.4:1", ""},
		{"unknown code", signed(remoting.RequestCode(9999), nil, nil, "rocketmq2", "12345678"), remote, "request code=9999 is not covered by the ACL"},
		{"heartbeat group", signed(remoting.HeartBeat, nil, []byte(`{"clientID":"c","consumerDataSet":[{"groupName":"groupA","subscriptionDataSet":[{"topic":"topicC"}]}]}`), "RocketMQ", "12345678"), remote, "No default permission for group:groupA"},
		{"heartbeat topic", signed(remoting.HeartBeat, nil, []byte(`{"consumerDataSet":[{"groupName":"groupB","subscriptionDataSet":[{"topic":"topicA"}]}]}`), "RocketMQ", "12345678"), remote, "No default permission for topic:topicA"},
		{"heartbeat ok", signed(remoting.HeartBeat, nil, []byte(`{"consumerDataSet":[{"groupName":"groupB","subscriptionDataSet":[{"topic":"topicC"},{"topic":"%RETRY%groupB"}]}]}`), "RocketMQ", "12345678"), remote, ""},
		{"retry send is SUB on the group", signed(remoting.SendMessageV2, map[string]string{"a": "groupA", "b": "%RETRY%groupA"}, nil, "RocketMQ", "12345678"), remote, "No default permission for group:groupA"},
		{"body is signed", func() *remoting.Command {
			c := signed(remoting.SendMessageV2, send("topicB"), []byte("x"), "RocketMQ", "12345678")
			c.Body = []byte("y")
			return c
		}(), remote, "Check signature failed"},
	}
	for _, c := range cases {
		code, remark, ok := v.Admit(c.cmd, c.remote)
		if c.want == "" {
			if !ok {
				t.Errorf("%s: refused: %s", c.name, remark)
			}
			continue
		}
		if ok || code != remoting.SystemError || !strings.HasPrefix(remark, remarkPrefix) || !strings.Contains(remark, c.want) {
			t.Errorf("%s: got %v %v %q, want SYSTEM_ERROR %q", c.name, ok, code, remark, c.want)
		}
	}
}

func TestNamesrvMode(t *testing.T) {
	v, _ := newTestValidator(t, ModeNamesrv, testACL)
	reg := map[string]string{"brokerName": "b", "brokerAddr": "1.2.3.4:10911"}
	for _, c := range []struct {
		name string
		cmd  *remoting.Command
		ok   bool
	}{
		{"route look-up open", remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": "t"}, nil), true},
		{"cluster info open", remoting.NewRequest(remoting.GetBrokerClusterInfo, nil, nil), true},
		{"anonymous register", remoting.NewRequest(remoting.RegisterBroker, reg, nil), false},
		{"non-admin register", signed(remoting.RegisterBroker, reg, []byte("{}"), "RocketMQ", "12345678"), false},
		{"admin register", signed(remoting.RegisterBroker, reg, []byte("{}"), "rocketmq2", "12345678"), true},
		{"forged admin signature", signed(remoting.RegisterBroker, reg, []byte("{}"), "rocketmq2", "guessed1"), false},
		{"anonymous delete topic", remoting.NewRequest(remoting.DeleteTopicInNamesrv, map[string]string{"topic": "t"}, nil), false},
		{"unknown code", signed(remoting.RequestCode(9999), nil, nil, "rocketmq2", "12345678"), false},
	} {
		if _, remark, ok := v.Admit(c.cmd, "127.0.0.1:1"); ok != c.ok {
			t.Errorf("%s: ok=%v (%s), want %v", c.name, ok, remark, c.ok)
		}
	}
}

// A change to the file applies at the next poll; a malformed one keeps
// the accounts loaded before.
func TestReload(t *testing.T) {
	v, path := newTestValidator(t, ModeBroker, testACL)
	cmd := signed(remoting.SendMessage, map[string]string{"topic": "topicB"}, nil, "newAccount", "newSecret")
	if _, _, ok := v.Admit(cmd, "127.0.0.1:1"); ok {
		t.Fatal("unknown account admitted")
	}
	add := testACL + "  - accessKey: newAccount\n    secretKey: newSecret\n    defaultTopicPerm: PUB\n"
	if err := os.WriteFile(path, []byte(add), 0o600); err != nil {
		t.Fatal(err)
	}
	v.m.Reload()
	if _, remark, ok := v.Admit(cmd, "127.0.0.1:1"); !ok {
		t.Fatalf("after reload: %s", remark)
	}
	if err := os.WriteFile(path, []byte("accounts: [ {accessKey: short, secretKey: x} ]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v.m.Reload()
	if _, remark, ok := v.Admit(cmd, "127.0.0.1:1"); !ok {
		t.Fatalf("a malformed file dropped the accounts: %s", remark)
	}
}

// The ACL admin operations rewrite the file and apply at once.
func TestAdminOperations(t *testing.T) {
	v, path := newTestValidator(t, ModeBroker, testACL)
	m := v.m
	if err := m.UpdateAccessConfig(PlainAccessConfig{AccessKey: "created1", SecretKey: "secret12", DefaultTopicPerm: "PUB", TopicPerms: []string{"x=SUB"}}); err != nil {
		t.Fatal(err)
	}
	cmd := signed(remoting.SendMessage, map[string]string{"topic": "y"}, nil, "created1", "secret12")
	if _, remark, ok := v.Admit(cmd, "127.0.0.1:1"); !ok {
		t.Fatalf("created account refused: %s", remark)
	}
	if err := m.UpdateAccessConfig(PlainAccessConfig{AccessKey: "created1", SecretKey: "secret12", DefaultTopicPerm: "DENY"}); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := v.Admit(cmd, "127.0.0.1:1"); ok {
		t.Fatal("update did not apply")
	}
	if err := m.UpdateAccessConfig(PlainAccessConfig{AccessKey: "short", SecretKey: "secret12"}); err == nil {
		t.Fatal("short accessKey accepted")
	}
	if ok, err := m.DeleteAccessConfig("created1"); !ok || err != nil {
		t.Fatalf("delete: %v %v", ok, err)
	}
	if _, remark, _ := v.Admit(cmd, "127.0.0.1:1"); !strings.Contains(remark, "No acl config for created1") {
		t.Fatalf("after delete: %s", remark)
	}
	if err := m.UpdateGlobalWhiteAddrs([]string{"127.0.0.1"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := v.Admit(remoting.NewRequest(remoting.DeleteTopicInBroker, nil, nil), "127.0.0.1:9"); !ok {
		t.Fatal("global white address not applied")
	}
	if err := m.UpdateGlobalWhiteAddrs([]string{"1.2.3.4"}, "/etc/passwd"); err == nil {
		t.Fatal("a file outside the ACL files was accepted")
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "dataVersion") || !strings.Contains(string(b), "RocketMQ") {
		t.Fatalf("rewritten file:\n%s", b)
	}
	white, accounts, err := m.AllAclConfig()
	if err != nil || len(white) != 1 || len(accounts) != 2 {
		t.Fatalf("AllAclConfig = %v %v %v", white, accounts, err)
	}
}

// The multi-file variant: accounts under conf/acl/ are loaded beside the
// default file; a key repeated in two files keeps the first.
func TestMultipleFiles(t *testing.T) {
	v, path := newTestValidator(t, ModeBroker, testACL)
	dir := filepath.Join(filepath.Dir(path), "acl", "team")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "more.yaml"), []byte("accounts:\n  - accessKey: teamKey1\n    secretKey: teamSecret\n    admin: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v.m.Reload()
	cmd := signed(remoting.UpdateAndCreateTopic, map[string]string{"topic": "t"}, nil, "teamKey1", "teamSecret")
	if _, remark, ok := v.Admit(cmd, "127.0.0.1:1"); !ok {
		t.Fatalf("account from conf/acl refused: %s", remark)
	}
}
