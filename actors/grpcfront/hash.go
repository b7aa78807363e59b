package grpcfront

import "unicode/utf16"

// javaStringHash is java.lang.String#hashCode over the UTF-16 code units.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			a, b := utf16.EncodeRune(r)
			h = 31*h + int32(a)
			h = 31*h + int32(b)
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// consistentHash is Guava's Hashing.consistentHash(long, int), which the
// proxy's SendMessageQueueSelector uses to put a message group on a write
// queue: the same group lands on the same queue as through the proxy.
func consistentHash(input int64, buckets int) int {
	state := uint64(input)
	candidate := 0
	for {
		state = 2862933555777941757*state + 1
		next := float64(int32(state>>33)+1) / (1 << 31)
		n := int(float64(candidate+1) / next)
		if n >= 0 && n < buckets {
			candidate = n
		} else {
			return candidate
		}
	}
}
