package transaction

import "unsafe"

// unsafeString views b as a string without copying. Only for bytes that
// stay unchanged while the string is in use (a property suffix until its
// record is encoded).
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
