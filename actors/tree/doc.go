// Package tree holds the snapshot of the broker's live actor tree: the
// types the broker's admin answer (SLUICE_GET_ACTOR_TREE) encodes as JSON,
// sluicectl decodes and draws, and metrics read. It imports nothing of
// protoactor, so the CLI stays small; the broker builds snapshots in
// package actors by walking the actor system's registry.
package tree
