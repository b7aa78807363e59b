package commitlog

import "unsafe"

// stringBytes views s as bytes without copying; the result must not be written.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
