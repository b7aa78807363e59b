// Package rmqv2 holds the wire structs and the gRPC service descriptors of
// RocketMQ 5's gRPC protocol (apache.rocketmq.v2: MessagingService and the
// Admin service), generated from the protos in proto/, which are
// apache/rocketmq-apis at commit 68c2cc9442928f769f8938515a05af6fa05c9993:
// byte for byte the protos the Node.js client rocketmq-client-nodejs 1.0.8
// ships (its definition.proto differs only by a final newline).
//
// It owns only generated code: regenerate with `task proto` (buf compiles
// the protos without protoc). Like every wire package it imports nothing of
// Sluice's.
package rmqv2
