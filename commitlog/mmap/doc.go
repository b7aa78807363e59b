// Package mmap owns the store's system calls: mapping files and anonymous
// memory, msync and fdatasync, fallocate, madvise (prefault, release from
// the resident set), mlock, SEEK_DATA, statfs, flock and directory syncs.
// Every package of the store (the commit log and consume queues, the
// message index) goes through it, so the system-call surface and its error
// wording are in one place.
//
// It imports nothing of ours and holds no state: each function acts on the
// file or mapping it is given.
package mmap
