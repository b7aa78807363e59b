// Package acl is RocketMQ 4.9's plain ACL (org.apache.rocketmq.acl.plain):
// PlainPermissionManager loads plain_acl.yml and conf/acl/*.yml, reloads
// them when they change and rewrites them for the ACL admin codes;
// PlainAccessValidator is an actors.RequestGate that checks each request's
// signature (HmacSHA1, as AclClientRPCHook signs) and the permission its
// code needs, on the broker (ModeBroker) and on the name server
// (ModeNamesrv: route changes need an admin account, look-ups are open).
// Handlers serve codes 50–54.
//
// It is a handler-set package: it may import actors (for Request and the
// gate's place) and remoting, and never protoactor, supervisor or cmd. It
// lives under actors rather than remoting because its admin codes are
// request handlers and its gate is called from the connection actor; the
// wire part every client needs (the signed content, Credentials.Sign) is
// in remoting/acl.go, so that tools sign without importing the validator.
// It owns the ACL files and nothing else: it never touches the store,
// topics or groups.
package acl
