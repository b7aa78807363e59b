// Package tlstest holds the end-to-end tests of TLS on the remoting port
// and the name server's, with the unmodified rocketmq-client-go, and the
// TLS-versus-plain send benchmark. It has no code of its own.
//
// The tests live in their own test binary because the Go client's
// WithTls(true) sets a field of a process-wide default configuration
// (remote.DefaultRemotingClientConfig): every Go client started after it
// in the same process speaks TLS, so plain Go-client tests beside these
// would fail. Here every Go client is a TLS one, created before any is
// started (WithTls writes the field; starting clients read it); the plain
// side of a test uses Sluice's own remoting client.
package tlstest
