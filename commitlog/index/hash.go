package index

import "unicode/utf8"

// javaHash continues Java's String#hashCode (h = 31*h + c over UTF-16 code
// units) over the UTF-8 text b, as Java would see it after decoding b:
// code points above U+FFFF count as their two surrogates, and a byte that
// is not valid UTF-8 as U+FFFD. It does not allocate.
func javaHash(h int32, b []byte) int32 {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			h = 31*h + int32(c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		i += n
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// keyHash is IndexFile#indexKeyHashMethod of topic + "#" + key.
func keyHash(topic, key []byte) int32 {
	h := javaHash(0, topic)
	h = 31*h + '#'
	h = javaHash(h, key)
	if h < 0 {
		h = -h // Math.abs: Integer.MIN_VALUE stays negative
	}
	if h < 0 {
		h = 0
	}
	return h
}
