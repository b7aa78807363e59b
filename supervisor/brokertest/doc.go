// Package brokertest starts a real broker on 127.0.0.1 with a port the OS
// picks, for tests in any package, as net/http/httptest does for servers.
// It is for tests only.
package brokertest
