// Package message is RocketMQ's MessageConst and its properties string:
// the property names, as the Java constants' values, and the one codec of
// the "name \x01 value \x02 …" encoding that producers send in a send
// header and the store keeps in every record.
//
// Everything that reads or writes a properties string — the broker's
// request handlers, the store (tag codes, keys) and the bundled producer —
// goes through this package, so the separators and the parsing rules are
// defined once. The rules are the Java broker's
// (MessageDecoder#string2messageProperties): an item counts only if both its
// name and its value are non-empty; a name repeated in one string resolves to
// its last value, because Java parses into a map.
//
// The package imports only the standard library, so that both remoting and
// commitlog may use it without importing anything else of Sluice.
package message
