package acl

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-mq/sluice/remoting"
)

// goClientSignature is rocketmq-client-go's ACLInterceptor, copied: the
// sorted ext-field values (AccessKey included), then the body, HmacSHA1,
// Base64. The fuzz target checks the validator agrees with it.
func goClientSignature(ext map[string]string, body []byte, sk string) string {
	keys := make([]string, 0, len(ext))
	for k := range ext {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	content := ""
	for _, k := range keys {
		content += ext[k]
	}
	mac := hmac.New(sha1.New, []byte(sk))
	mac.Write([]byte(content))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// FuzzSignature: a request signed as the Go client signs it is admitted,
// any change to a value, the body or the signature is refused, and no
// input makes the check panic.
func FuzzSignature(f *testing.F) {
	v, _ := newTestValidator(f, ModeBroker, testACL)
	f.Add("topicB", "pg", []byte("hello"), "", uint8(0))
	f.Add("topicB", "", []byte{}, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", uint8(1))
	f.Add("topicB", "p\u00e9", []byte{0, 1, 2}, "not base64", uint8(2))
	f.Add("%RETRY%groupB", "groupB", []byte(nil), "", uint8(3))
	f.Fuzz(func(t *testing.T, topic, group string, body []byte, forged string, flip uint8) {
		ext := map[string]string{"a": group, "b": topic, "AccessKey": "RocketMQ"}
		sig := goClientSignature(ext, body, "12345678")
		cmd := remoting.NewRequest(remoting.SendMessageV2, ext, body)
		ext["Signature"] = sig
		_, remark, ok := v.Admit(cmd, "127.0.0.1:1")
		if !ok && strings.Contains(remark, "Check signature failed") {
			t.Fatalf("genuine signature refused: %s", remark)
		}
		if ok != (topic == "topicB") && !strings.HasPrefix(topic, "%RETRY%") && topic != "RMQ_SYS_TRACE_TOPIC" {
			t.Fatalf("topic %q: ok=%v %s", topic, ok, remark)
		}
		// Tamper with one thing; the signature must no longer verify.
		switch flip % 3 {
		case 0:
			if forged == sig {
				return
			}
			ext["Signature"] = forged
		case 1:
			ext["b"] = topic + "x"
		case 2:
			cmd.Body = append(append([]byte(nil), body...), 'x')
		}
		if _, remark, ok := v.Admit(cmd, "127.0.0.1:1"); ok || !strings.Contains(remark, "Check signature failed") {
			t.Fatalf("tampered request (flip %d): ok=%v %s", flip%3, ok, remark)
		}
	})
}

// BenchmarkAdmit is the per-request cost of the gate for a signed
// SEND_MESSAGE_V2 with a 1 KiB body, beside no gate at all (ACL off is
// one nil check in the connection actor).
func BenchmarkAdmit(b *testing.B) {
	v, _ := newTestValidator(b, ModeBroker, testACL)
	ext := map[string]string{"a": "pg", "b": "topicB", "c": "TBW102", "d": "4", "e": "0", "f": "0", "g": "1700000000000",
		"h": "0", "i": "UNIQ_KEY\x01abc\x02WAIT\x01true\x02", "j": "0", "k": "false", "m": "false"}
	body := make([]byte, 1024)
	cmd := signed(remoting.SendMessageV2, ext, body, "RocketMQ", "12345678")
	var gate interface {
		Admit(*remoting.Command, string) (remoting.ResponseCode, string, bool)
	}
	b.Run("off", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if gate != nil {
				gate.Admit(cmd, "127.0.0.1:5000")
			}
		}
	})
	gate = v
	b.Run("on", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, remark, ok := gate.Admit(cmd, "127.0.0.1:5000"); !ok {
				b.Fatal(remark)
			}
		}
	})
}

// An admitted signed send allocates nothing.
func TestAdmitAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	v, _ := newTestValidator(t, ModeBroker, testACL)
	cmd := signed(remoting.SendMessageV2, map[string]string{"a": "pg", "b": "topicB"}, make([]byte, 512), "RocketMQ", "12345678")
	if _, remark, ok := v.Admit(cmd, "127.0.0.1:5000"); !ok {
		t.Fatal(remark)
	}
	if n := testing.AllocsPerRun(200, func() { v.Admit(cmd, "127.0.0.1:5000") }); n != 0 {
		t.Fatalf("Admit allocates %.1f times per request", n)
	}
}
