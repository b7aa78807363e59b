package acl

import (
	"encoding/json"
	"strings"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/remoting"
)

// Response codes of the ACL admin codes (ResponseCode.java).
const (
	UpdateAndCreateAclConfigFailed     remoting.ResponseCode = 209
	DeleteAclConfigFailed              remoting.ResponseCode = 210
	UpdateGlobalWhiteAddrsConfigFailed remoting.ResponseCode = 211
)

// Identity is what GET_BROKER_CLUSTER_ACL_INFO reports about the broker.
type Identity struct {
	BrokerName, BrokerAddr, ClusterName string
}

// Codes lists the ACL admin codes Handlers serves.
func Codes() []remoting.RequestCode {
	return []remoting.RequestCode{remoting.UpdateAndCreateACLConfig, remoting.DeleteACLConfig, remoting.GetBrokerClusterACLInfo,
		remoting.UpdateGlobalWhiteAddrsConfig, CodeGetBrokerClusterAclConfig}
}

// Handlers serves the ACL admin codes over m (AdminBrokerProcessor's
// ACL cases). The gate admits them for admin accounts only.
func Handlers(m *PlainPermissionManager, id Identity, log zerolog.Logger) map[remoting.RequestCode]actors.HandlerFunc {
	h := &handlers{m: m, id: id, log: log}
	return map[remoting.RequestCode]actors.HandlerFunc{
		remoting.UpdateAndCreateACLConfig:     h.updateAndCreateAccessConfig,
		remoting.DeleteACLConfig:              h.deleteAccessConfig,
		remoting.GetBrokerClusterACLInfo:      h.getBrokerAclConfigVersion,
		remoting.UpdateGlobalWhiteAddrsConfig: h.updateGlobalWhiteAddrsConfig,
		CodeGetBrokerClusterAclConfig:         h.getBrokerClusterAclConfig,
	}
}

type handlers struct {
	m   *PlainPermissionManager
	id  Identity
	log zerolog.Logger
}

// split is UtilAll.split: comma-separated, blanks dropped; nil for "".
func split(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// updateAndCreateAccessConfig (CreateAccessConfigRequestHeader).
func (h *handlers) updateAndCreateAccessConfig(r *actors.Request) {
	c := PlainAccessConfig{
		AccessKey:          r.Cmd.Ext("accessKey"),
		SecretKey:          r.Cmd.Ext("secretKey"),
		WhiteRemoteAddress: r.Cmd.Ext("whiteRemoteAddress"),
		Admin:              strings.EqualFold(r.Cmd.Ext("admin"), "true"),
		DefaultTopicPerm:   r.Cmd.Ext("defaultTopicPerm"),
		DefaultGroupPerm:   r.Cmd.Ext("defaultGroupPerm"),
		TopicPerms:         split(r.Cmd.Ext("topicPerms")),
		GroupPerms:         split(r.Cmd.Ext("groupPerms")),
	}
	if c.AccessKey == "" {
		r.ReplyCode(UpdateAndCreateAclConfigFailed, "the custom field <accessKey> is null")
		return
	}
	if err := h.m.UpdateAccessConfig(c); err != nil {
		h.log.Warn().Err(err).Str("accessKey", c.AccessKey).Str("remote", r.RemoteAddr()).Msg("acl: update access config failed")
		r.ReplyCode(UpdateAndCreateAclConfigFailed, err.Error())
		return
	}
	h.log.Info().Str("accessKey", c.AccessKey).Str("remote", r.RemoteAddr()).Msg("acl: access config updated")
	r.ReplyCode(remoting.Success, "")
}

// deleteAccessConfig (DeleteAccessConfigRequestHeader).
func (h *handlers) deleteAccessConfig(r *actors.Request) {
	ak := r.Cmd.Ext("accessKey")
	h.log.Info().Str("accessKey", ak).Str("remote", r.RemoteAddr()).Msg("acl: DeleteAccessConfig called")
	ok, err := h.m.DeleteAccessConfig(ak)
	switch {
	case err != nil:
		r.ReplyCode(DeleteAclConfigFailed, err.Error())
	case !ok:
		r.ReplyCode(DeleteAclConfigFailed, "The accesskey["+ak+"] corresponding to accessConfig has been deleted failed.")
	default:
		r.ReplyCode(remoting.Success, "")
	}
}

// updateGlobalWhiteAddrsConfig (UpdateGlobalWhiteAddrsConfigRequestHeader).
func (h *handlers) updateGlobalWhiteAddrsConfig(r *actors.Request) {
	addrs := r.Cmd.Ext("globalWhiteAddrs")
	if err := h.m.UpdateGlobalWhiteAddrs(split(addrs), r.Cmd.Ext("aclFileFullPath")); err != nil {
		h.log.Warn().Err(err).Str("remote", r.RemoteAddr()).Msg("acl: update globalWhiteRemoteAddresses failed")
		r.ReplyCode(UpdateGlobalWhiteAddrsConfigFailed, "The globalWhiteAddresses["+addrs+"] has been updated failed: "+err.Error())
		return
	}
	r.ReplyCode(remoting.Success, "")
}

// getBrokerAclConfigVersion answers GetBrokerAclConfigResponseHeader.
func (h *handlers) getBrokerAclConfigVersion(r *actors.Request) {
	def, all := h.m.Versions()
	version, _ := json.Marshal(def)
	allJSON, _ := json.Marshal(all)
	resp := remoting.NewResponse(r.Cmd, remoting.Success, "")
	resp.SetExt("version", string(version))
	resp.SetExt("allAclFileVersion", string(allJSON))
	resp.SetExt("brokerName", h.id.BrokerName)
	resp.SetExt("brokerAddr", h.id.BrokerAddr)
	resp.SetExt("clusterName", h.id.ClusterName)
	r.Reply(resp)
}

// getBrokerClusterAclConfig answers GetBrokerClusterAclConfigResponseBody
// (RocketMQ 4.9.0–4.9.4's code 54).
func (h *handlers) getBrokerClusterAclConfig(r *actors.Request) {
	white, accounts, err := h.m.AllAclConfig()
	if err != nil {
		r.ReplyCode(remoting.SystemError, err.Error())
		return
	}
	if white == nil {
		white = []string{}
	}
	if accounts == nil {
		accounts = []PlainAccessConfig{}
	}
	r.ReplyJSON(struct {
		GlobalWhiteAddrs   []string            `json:"globalWhiteAddrs"`
		PlainAccessConfigs []PlainAccessConfig `json:"plainAccessConfigs"`
	}{white, accounts})
}
