package acl

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/remoting"
)

// Mode says whose requests a validator checks.
type Mode uint8

const (
	// ModeBroker checks a broker's requests as RocketMQ 4.9's
	// PlainAccessValidator does.
	ModeBroker Mode = iota
	// ModeNamesrv checks a name server's: look-ups are open, route changes
	// need an admin account (ours).
	ModeNamesrv
)

// remarkPrefix is how RocketMQ's answer names the exception: the broker's
// RPC hook throws AclException and NettyRemotingAbstract answers
// SYSTEM_ERROR with RemotingHelper#exceptionSimpleDesc, "class: message,
// first stack frame" (the frame, meaningless outside the JVM, is left out).
const remarkPrefix = "org.apache.rocketmq.acl.common.AclException: "

// retryGroupTopicPrefix is MixAll.RETRY_GROUP_TOPIC_PREFIX.
const retryGroupTopicPrefix = "%RETRY%"

// traceTopic is TopicValidator.RMQ_SYS_TRACE_TOPIC: a PUB on it skips the
// permission check, so that every producer can write its traces.
const traceTopic = "RMQ_SYS_TRACE_TOPIC"

var base64Std = base64.StdEncoding

// refuseLogEvery rate-limits the line logged for refused requests.
const refuseLogEvery = time.Second

// PlainAccessValidator is the plain ACL as an actors.RequestGate: it
// parses what a request needs (PlainAccessValidator#parse) and validates
// it against the loaded accounts (PlainPermissionManager#validate).
type PlainAccessValidator struct {
	m       *PlainPermissionManager
	mode    Mode
	log     zerolog.Logger
	scratch sync.Pool // *scratch

	lastLog    atomic.Int64
	suppressed atomic.Int64
}

// NewPlainAccessValidator validates requests against m's accounts.
func NewPlainAccessValidator(m *PlainPermissionManager, mode Mode, log zerolog.Logger) *PlainAccessValidator {
	v := &PlainAccessValidator{m: m, mode: mode, log: log}
	v.scratch.New = func() any {
		return &scratch{keys: make([]string, 0, 16), content: make([]byte, 0, 512), needs: make([]need, 0, 8)}
	}
	return v
}

// Manager is the permission manager the validator reads.
func (v *PlainAccessValidator) Manager() *PlainPermissionManager { return v.m }

// scratch is the per-request working space, pooled so that an admitted
// request allocates nothing.
type scratch struct {
	keys    []string
	content []byte
	needs   []need
	sig     [remoting.SignatureBase64Len]byte
	sum     [20]byte
}

// need is one resource a request touches: a topic, or a group (its retry
// topic in RocketMQ's map).
type need struct {
	name  string
	group bool
	perm  byte
}

// Admit implements actors.RequestGate.
func (v *PlainAccessValidator) Admit(cmd *remoting.Command, remoteAddr string) (remoting.ResponseCode, string, bool) {
	msg, ok := v.check(cmd, remoteAddr)
	if ok {
		return remoting.Success, "", true
	}
	v.logRefusal(cmd, remoteAddr, msg)
	return remoting.SystemError, remarkPrefix + msg, false
}

// check returns why cmd is refused, or ok.
func (v *PlainAccessValidator) check(cmd *remoting.Command, remoteAddr string) (string, bool) {
	code := cmd.RequestCode()
	class := brokerClass(code)
	if v.mode == ModeNamesrv {
		class = namesrvClass(code)
	}
	if class == classOpen {
		return "", true
	}
	snap := v.m.snap.Load()
	addr := parseClientAddr(remoteAddr)
	for i := range snap.global {
		if snap.global[i].match(addr) {
			return "", true
		}
	}
	if class == classUnknown {
		return fmt.Sprintf("request code=%d is not covered by the ACL, refused while aclEnable=true", code), false
	}
	ak := cmd.Ext(remoting.ExtAccessKey)
	if ak == "" {
		return "No accessKey is configured", false
	}
	owner := snap.accounts[ak]
	if owner == nil {
		return "No acl config for " + ak, false
	}
	if v.mode == ModeNamesrv && !owner.admin {
		// The white address below would otherwise let any account in.
		return fmt.Sprintf("Need admin permission for request code=%d, but accessKey=%s is not", code, ak), false
	}
	if owner.white.match(addr) {
		return "", true
	}
	s := v.scratch.Get().(*scratch)
	defer v.scratch.Put(s)
	if !v.signatureValid(s, owner, cmd) {
		return "Check signature failed for accessKey=" + ak, false
	}
	s.needs = s.needs[:0]
	if class == classResource {
		var err error
		if s.needs, err = parseNeeds(s.needs, cmd); err != nil {
			return err.Error(), false
		}
		for _, n := range s.needs {
			if !n.group && n.name == traceTopic && n.perm == PermPub {
				return "", true
			}
		}
	}
	return checkPerm(class, code, s.needs, owner)
}

// signatureValid recomputes the request's signature under the owner's
// secret and compares it in constant time.
func (v *PlainAccessValidator) signatureValid(s *scratch, owner *account, cmd *remoting.Command) bool {
	got := cmd.Ext(remoting.ExtSignature)
	if len(got) != remoting.SignatureBase64Len {
		return false
	}
	s.content = remoting.AppendSignedContent(s.content[:0], &s.keys, cmd)
	mac := owner.mac()
	mac.Write(s.content)
	mac.Write(cmd.Body)
	sum := mac.Sum(s.sum[:0])
	owner.putMAC(mac)
	base64Std.Encode(s.sig[:], sum)
	return subtle.ConstantTimeCompare(s.sig[:], []byte(got)) == 1
}

// checkPerm is PlainPermissionManager#checkPerm.
func checkPerm(class codeClass, code remoting.RequestCode, needs []need, owner *account) (string, bool) {
	if class == classAdmin && !owner.admin {
		return fmt.Sprintf("Need admin permission for request code=%d, but accessKey=%s is not", code, owner.accessKey), false
	}
	if len(needs) == 0 || (!owner.hasResourcePerms() && owner.admin) {
		return "", true
	}
	for _, n := range needs {
		owned, table, def := byte(0), owner.topics, owner.defaultTopic
		if n.group {
			table, def = owner.groups, owner.defaultGroup
		}
		p, ok := table[n.name]
		if !ok {
			p = def
		}
		owned = p
		if !checkPermission(n.perm, owned) {
			kind := "topic"
			if n.group {
				kind = "group"
			}
			return fmt.Sprintf("No default permission for %s:%s", kind, n.name), false
		}
	}
	return "", true
}

// field is an ext field and whether the request has it: RocketMQ skips a
// resource whose field is absent (null) but checks an empty one.
type field struct {
	v  string
	ok bool
}

func ext(cmd *remoting.Command, key string) field {
	v, ok := cmd.LookupExt(key)
	return field{v, ok}
}

// addTopic adds a topic, or the group of a retry topic, as RocketMQ's
// resource map holds %RETRY%group for the group.
func addTopic(needs []need, f field, perm byte) []need {
	if !f.ok {
		return needs
	}
	topic := f.v
	if g, ok := strings.CutPrefix(topic, retryGroupTopicPrefix); ok {
		return append(needs, need{name: g, group: true, perm: perm})
	}
	return append(needs, need{name: topic, perm: perm})
}

func addGroup(needs []need, f field, perm byte) []need {
	if !f.ok {
		return needs
	}
	return append(needs, need{name: f.v, group: true, perm: perm})
}

// parseNeeds is the switch of PlainAccessValidator#parse. Batch sends and
// replies are checked as sends (RocketMQ 4.9 checks only their signature,
// which lets a batch reach a denied topic).
func parseNeeds(needs []need, cmd *remoting.Command) ([]need, error) {
	switch cmd.RequestCode() {
	case remoting.SendMessage, remoting.SendReplyMessage:
		return sendNeeds(needs, ext(cmd, "topic"), ext(cmd, "group")), nil
	case remoting.SendMessageV2, remoting.SendBatchMessage, remoting.SendReplyMessageV2:
		if !ext(cmd, "b").ok && ext(cmd, "topic").ok {
			// A batch or reply sent with the long header.
			return sendNeeds(needs, ext(cmd, "topic"), ext(cmd, "group")), nil
		}
		return sendNeeds(needs, ext(cmd, "b"), ext(cmd, "a")), nil
	case remoting.ConsumerSendMsgBack:
		return addGroup(needs, ext(cmd, "group"), PermSub), nil
	case remoting.PullMessage:
		needs = addTopic(needs, ext(cmd, "topic"), PermSub)
		return addGroup(needs, ext(cmd, "consumerGroup"), PermSub), nil
	case remoting.QueryMessage:
		return addTopic(needs, ext(cmd, "topic"), PermSub), nil
	case remoting.UnregisterClient, remoting.GetConsumerListByGroup:
		return addGroup(needs, ext(cmd, "consumerGroup"), PermSub), nil
	case remoting.UpdateConsumerOffset:
		needs = addGroup(needs, ext(cmd, "consumerGroup"), PermSub)
		return addTopic(needs, ext(cmd, "topic"), PermSub), nil
	case remoting.HeartBeat:
		var hb heartbeatData
		if err := json.Unmarshal(cmd.Body, &hb); err != nil {
			return needs, fmt.Errorf("decode heartbeat: %w", err)
		}
		for _, c := range hb.ConsumerDataSet {
			needs = addGroup(needs, field{c.GroupName, true}, PermSub)
			for _, sd := range c.SubscriptionDataSet {
				needs = addTopic(needs, field{sd.Topic, true}, PermSub)
			}
		}
	}
	return needs, nil
}

// sendNeeds: a send to a retry topic is a consumer's retry, SUB on the
// group the header names ("group" of SEND_MESSAGE, which its header does
// not have; "a", the producer group, of SEND_MESSAGE_V2), as RocketMQ reads it.
func sendNeeds(needs []need, topic, group field) []need {
	if strings.HasPrefix(topic.v, retryGroupTopicPrefix) {
		return addGroup(needs, group, PermSub)
	}
	return addTopic(needs, topic, PermPub)
}

// heartbeatData is the part of HeartbeatData the ACL reads.
type heartbeatData struct {
	ConsumerDataSet []struct {
		GroupName           string `json:"groupName"`
		SubscriptionDataSet []struct {
			Topic string `json:"topic"`
		} `json:"subscriptionDataSet"`
	} `json:"consumerDataSet"`
}

// logRefusal logs refused requests at most once per refuseLogEvery, with
// how many were not logged in between.
func (v *PlainAccessValidator) logRefusal(cmd *remoting.Command, remoteAddr, why string) {
	now := time.Now().UnixNano()
	last := v.lastLog.Load()
	if now-last < int64(refuseLogEvery) || !v.lastLog.CompareAndSwap(last, now) {
		v.suppressed.Add(1)
		return
	}
	v.log.Warn().Str("accessKey", cmd.Ext(remoting.ExtAccessKey)).Str("remote", remoteAddr).
		Stringer("code", cmd.RequestCode()).Str("reason", why).Int64("notLogged", v.suppressed.Swap(0)).
		Msg("acl: request refused")
}
