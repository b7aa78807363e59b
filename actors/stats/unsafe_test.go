package stats

import "unsafe"

func unsafeView(b []byte) string { return unsafe.String(&b[0], len(b)) }
