// Package brokerconf reads a RocketMQ broker.conf (a Java properties file)
// into the broker's configuration structs, with RocketMQ's key names and
// defaults, and prints the effective configuration back in the same form.
//
// It owns the mapping from keys to fields and nothing else: it opens no
// sockets and starts nothing. Unlike RocketMQ, which ignores unknown keys
// and values it cannot parse, Load reports unknown keys as warnings and
// refuses malformed values with an error naming the key and the value.
//
// It lives beside cmd/sluice, its only user: the broker itself takes a
// supervisor.Config and never reads files of configuration, so tests and
// embedders build one in code.
package brokerconf
