// Package remoting is Sluice's side of Apache RocketMQ's 4.x "remoting"
// protocol: the frame codec, both header serializations, the request,
// response and language codes, the five busy answers, the connection read
// loop and batching writer, and a small multiplexing client.
//
// It is the only place that knows the wire. Everything above it (broker,
// name server, CLI, load generator) sees Commands, so a protocol mistake
// is fixed here once. For the same reason it imports nothing of Sluice's
// and nothing stateful: no actors, no commit log, no configuration. A
// package that needs the wire depends on remoting, never the other way
// round, which keeps the codec testable and fuzzable on its own.
//
// # Frame
//
// Every frame, in both directions and for both serializations, is
// (integers big-endian):
//
//	 0               4       5               8
//	+---------------+-------+---------------+------------------+----------------+
//	|    length     | type  |  header len   |   header         |   body         |
//	|   (int32)     | (u8)  |   (u24)       |   (header len)   |   (the rest)   |
//	+---------------+-------+---------------+------------------+----------------+
//	 length = 4 + header len + body len   (it does not count itself)
//	 type   = 0 JSON, 1 ROCKETMQ (binary)
//
// The maximum frame size counts the length field too, as Java's
// NettyDecoder does, and is checked before a buffer is allocated: the
// length comes from the peer and must not be able to make us allocate.
//
// The JSON header is RemotingCommand as fastjson writes it:
//
//	{"code":105,"extFields":{"topic":"T"},"flag":0,"language":"GO",
//	 "opaque":1,"remark":"","serializeTypeCurrentRPC":"JSON","version":317}
//
// extFields values are always JSON strings: the Go client drops a whole
// response whose extFields holds a number. The binary header is
//
//	code(2) language(1) version(2) opaque(4) flag(4)
//	remark len(4) remark  extFields len(4) { key len(2) key  value len(4) value }*
//
// The Go client only ever sends JSON but reads both; a response answers in
// the serialization of its request (NewResponse), as RocketMQ 4.9 does.
//
// Flag bit 0 marks a response and bit 1 a one-way request. The Go client
// routes a frame to a waiting call only if bit 0 is set and the opaque
// matches, so every answer must carry both; it never sets bit 1, not even
// for its one-way calls.
//
// # Custom headers without maps
//
// A Command's custom header (extFields) is in two places: ExtFields, a map
// for the headers built by hand (requests, rare answers), and Fields, a
// short slice with no map. Decoding fills Fields, one allocation for the
// whole header, a map's rules kept (a repeated key keeps its last value, a
// null removes the key; see decodedExt). The typed header decoders search it
// from where the last key was found, so a header written in their field
// order (the Java client's SEND_MESSAGE_V2) costs one comparison a key
// (BenchmarkDecodeSendRequest compares it with the map). The answers the
// broker builds once per message (SEND_OK, a pull's FOUND) carry typed
// Fields, allocated with the Command by NewAnswer and turned into text only
// while the frame is written, in the order the header's Encode put them
// (sorted, so the bytes are those a sorted map gives). Both serializations
// write ExtFields then Fields; a key is in one or the other, never both.
// Read a header with Ext, LookupExt, RangeExt or ExtMap, which see both,
// never ExtFields alone.
//
// # Bounds
//
// What a peer can make a connection hold is bounded by what it sends and
// reads, not by what it claims. A frame's buffer grows as its bytes arrive
// (to at most twice what has arrived, plus 32 KiB), and the part beyond
// its first 32 KiB is charged to a FrameBudget shared by a server's
// connections; over budget a connection stops reading its socket until
// budget comes back, with one lane that always lets some frame complete
// (see FrameBudget). On the way out, the frames queued for a peer are
// counted in bytes and in frames against Netty-style water marks: above
// the high mark the connection reads no further request until the queue
// is below the low mark, and a queue that does not get there within the
// drain timeout closes the connection with ErrWriteBacklog (see
// ConnOptions).
//
// A server can refuse a request from its head (FrameHead: code, opaque and
// flag, peeked in the read buffer) before the header is decoded
// (Conn.ReadLoopRefusing): the frame is skipped, never copied, and its busy
// answer, encoded from a template, is written by the reading goroutine
// itself. The head is read leniently; a header it cannot read cheaply goes
// down the full decode, which judges it.
package remoting
