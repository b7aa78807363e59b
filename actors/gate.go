package actors

import "github.com/sluice-mq/sluice/remoting"

// RequestGate decides whether a request may run at all, before it is
// routed to a processor: RocketMQ's server RPC hook (doBeforeRequest), where
// the broker's plain ACL runs. It is called on the connection actor, once
// per request, so it must be cheap and must not block.
type RequestGate interface {
	// Admit returns ok, or the code and remark the request is refused with.
	// remoteAddr is the client's host:port.
	Admit(cmd *remoting.Command, remoteAddr string) (code remoting.ResponseCode, remark string, ok bool)
}
