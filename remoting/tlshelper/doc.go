// Package tlshelper is TLS on the remoting protocol, after RocketMQ's
// TlsSystemConfig, TlsHelper and NettyRemotingServer's handshake handler:
// the tls.* keys and their defaults (Config), the server side with its
// three modes — disabled, permissive (plain and TLS on one port, told apart
// by the first byte of the connection, 0x16 for a TLS handshake) and
// enforcing — and certificates that can be reloaded while connections are
// served (Server), and the client side the broker uses to reach its name
// servers and the tools use to reach a broker (Config.ClientTLS,
// ClientFlags).
//
// It owns crypto/tls configuration and the per-connection detection
// wrapper and nothing else: it reads no broker.conf (cmd/sluice/brokerconf
// feeds it keys), starts no listener and logs nothing; errors carry the
// key or the file they are about. Like the rest of remoting it imports
// nothing of Sluice's: a listener hands it each accepted net.Conn and gets
// back a net.Conn to read frames from.
package tlshelper
