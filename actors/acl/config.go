package acl

import (
	"crypto/hmac"
	"crypto/sha1"
	"fmt"
	"hash"
	"sync"
)

// PlainAccessConfig is one account of plain_acl.yml (RocketMQ's
// PlainAccessConfig), also the JSON of GET_BROKER_CLUSTER_ACL_CONFIG.
type PlainAccessConfig struct {
	AccessKey          string   `yaml:"accessKey" json:"accessKey"`
	SecretKey          string   `yaml:"secretKey" json:"secretKey"`
	WhiteRemoteAddress string   `yaml:"whiteRemoteAddress,omitempty" json:"whiteRemoteAddress,omitempty"`
	Admin              bool     `yaml:"admin" json:"admin"`
	DefaultTopicPerm   string   `yaml:"defaultTopicPerm,omitempty" json:"defaultTopicPerm,omitempty"`
	DefaultGroupPerm   string   `yaml:"defaultGroupPerm,omitempty" json:"defaultGroupPerm,omitempty"`
	TopicPerms         []string `yaml:"topicPerms,omitempty" json:"topicPerms,omitempty"`
	GroupPerms         []string `yaml:"groupPerms,omitempty" json:"groupPerms,omitempty"`
}

// DataVersion is RocketMQ's DataVersion as plain_acl.yml keeps it.
type DataVersion struct {
	Counter   int64 `yaml:"counter" json:"counter"`
	Timestamp int64 `yaml:"timestamp" json:"timestamp"`
}

// aclFile is one plain_acl.yml.
type aclFile struct {
	GlobalWhiteRemoteAddresses []string            `yaml:"globalWhiteRemoteAddresses,omitempty"`
	Accounts                   []PlainAccessConfig `yaml:"accounts,omitempty"`
	DataVersion                []DataVersion       `yaml:"dataVersion,omitempty"`
}

// accessKeyMinLength and secretKeyMinLength: RocketMQ wants both keys
// longer than 6 characters (AclConstants).
const (
	accessKeyMinLength = 6
	secretKeyMinLength = 6
)

// checkPlainAccessConfig is PlainPermissionManager#checkPlainAccessConfig.
func checkPlainAccessConfig(c *PlainAccessConfig) error {
	if len(c.AccessKey) <= accessKeyMinLength || len(c.SecretKey) <= secretKeyMinLength {
		return fmt.Errorf("The accessKey=%s and secretKey cannot be null and length should longer than 6", c.AccessKey)
	}
	return nil
}

// account is a parsed PlainAccessConfig (RocketMQ's PlainAccessResource of
// an owner).
type account struct {
	accessKey    string
	secret       []byte
	white        remoteAddressStrategy
	admin        bool
	defaultTopic byte
	defaultGroup byte
	topics       map[string]byte
	groups       map[string]byte // by group name, without %RETRY%
	file         string
	// macs holds HmacSHA1 instances keyed with secret: keying one costs
	// several allocations, and every signed request needs one.
	macs sync.Pool
}

func buildAccount(c *PlainAccessConfig, file string) (*account, error) {
	if err := checkPlainAccessConfig(c); err != nil {
		return nil, err
	}
	a := &account{
		accessKey: c.AccessKey, secret: []byte(c.SecretKey), admin: c.Admin, file: file,
		defaultTopic: parsePerm(c.DefaultTopicPerm), defaultGroup: parsePerm(c.DefaultGroupPerm),
	}
	if c.DefaultTopicPerm == "" {
		a.defaultTopic = PermDeny
	}
	var err error
	if a.groups, err = parseResourcePerms("group", c.GroupPerms); err != nil {
		return nil, err
	}
	if a.topics, err = parseResourcePerms("topic", c.TopicPerms); err != nil {
		return nil, err
	}
	if a.white, err = parseRemoteAddress(c.WhiteRemoteAddress); err != nil {
		return nil, fmt.Errorf("accessKey %s: whiteRemoteAddress: %w", c.AccessKey, err)
	}
	secret := a.secret
	a.macs.New = func() any { return hmac.New(sha1.New, secret) }
	return a, nil
}

func (a *account) mac() hash.Hash { return a.macs.Get().(hash.Hash) }

func (a *account) putMAC(h hash.Hash) {
	h.Reset()
	a.macs.Put(h)
}

// hasResourcePerms is "ownedPermMap != null" in PlainPermissionManager#checkPerm.
func (a *account) hasResourcePerms() bool { return a.topics != nil || a.groups != nil }
