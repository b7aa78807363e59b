package remoting

import (
	"encoding/binary"
	"fmt"
	"math"
)

// rocketMQFixedHeader is code(2) language(1) version(2) opaque(4) flag(4)
// remark length(4) before the variable part.
const rocketMQFixedHeader = 2 + 1 + 2 + 4 + 4 + 4

func appendRocketMQHeader(dst []byte, c *Command) ([]byte, error) {
	dst = binary.BigEndian.AppendUint16(dst, uint16(c.Code))
	dst = append(dst, byte(c.Language))
	dst = binary.BigEndian.AppendUint16(dst, uint16(c.Version))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Opaque))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Flag))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.Remark)))
	dst = append(dst, c.Remark...)
	lenAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	if len(c.ExtFields) > 0 {
		// Sorted for byte-stable frames; RocketMQ does not care.
		var stack [32]extField
		for _, f := range sortedExt(c.ExtFields, stack[:0]) {
			if len(f.k) > math.MaxUint16 {
				return dst, fmt.Errorf("extFields key of %d bytes does not fit the 16-bit length: %w", len(f.k), ErrMalformedHeader)
			}
			dst = binary.BigEndian.AppendUint16(dst, uint16(len(f.k)))
			dst = append(dst, f.k...)
			dst = binary.BigEndian.AppendUint32(dst, uint32(len(f.v)))
			dst = append(dst, f.v...)
		}
	}
	for i := range c.Fields {
		f := &c.Fields[i]
		if len(f.Key) > math.MaxUint16 {
			return dst, fmt.Errorf("field key of %d bytes does not fit the 16-bit length: %w", len(f.Key), ErrMalformedHeader)
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(f.Key)))
		dst = append(dst, f.Key...)
		at := len(dst)
		dst = f.AppendValue(append(dst, 0, 0, 0, 0))
		binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	binary.BigEndian.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt-4))
	return dst, nil
}

// decodeRocketMQHeader checks every length against what is left before
// slicing, so a lying length is an error, never a panic or a large
// allocation. Strings are cut from one copy of the variable part (one
// allocation per header); keeping one alive keeps that copy, never the
// body. Bytes after the extFields are ignored, as Java ignores them.
func decodeRocketMQHeader(b []byte, c *Command) error {
	if len(b) < rocketMQFixedHeader+4 {
		return fmt.Errorf("decode ROCKETMQ header of %d bytes: %w: shorter than the fixed part", len(b), ErrMalformedHeader)
	}
	c.Code = int32(int16(binary.BigEndian.Uint16(b)))
	c.Language = LanguageCode(b[2])
	c.Version = int16(binary.BigEndian.Uint16(b[3:]))
	c.Opaque = int32(binary.BigEndian.Uint32(b[5:]))
	c.Flag = int32(binary.BigEndian.Uint32(b[9:]))
	p := 13
	remarkLen := int(int32(binary.BigEndian.Uint32(b[p:])))
	p += 4
	if remarkLen < 0 || remarkLen > len(b)-p {
		return fmt.Errorf("decode ROCKETMQ header: remark length %d: %w", remarkLen, ErrMalformedHeader)
	}
	remarkAt := p
	p += remarkLen
	if len(b)-p < 4 {
		return fmt.Errorf("decode ROCKETMQ header: no extFields length: %w", ErrMalformedHeader)
	}
	extLen := int(int32(binary.BigEndian.Uint32(b[p:])))
	p += 4
	if extLen < 0 || extLen > len(b)-p {
		return fmt.Errorf("decode ROCKETMQ header: extFields length %d: %w", extLen, ErrMalformedHeader)
	}
	extAt := p

	// First pass: validate and count, so that nothing is allocated for a
	// header that turns out to be bad and the fields get their final size.
	n := 0
	for q, end := extAt, extAt+extLen; q < end; n++ {
		if end-q < 2 {
			return fmt.Errorf("decode ROCKETMQ header: truncated extFields key length: %w", ErrMalformedHeader)
		}
		kl := int(binary.BigEndian.Uint16(b[q:]))
		q += 2
		if kl > end-q || end-q-kl < 4 {
			return fmt.Errorf("decode ROCKETMQ header: extFields key length %d: %w", kl, ErrMalformedHeader)
		}
		q += kl
		vl := int(int32(binary.BigEndian.Uint32(b[q:])))
		q += 4
		if vl < 0 || vl > end-q {
			return fmt.Errorf("decode ROCKETMQ header: extFields value length %d for %q: %w", vl, b[q-4-kl:q-4], ErrMalformedHeader)
		}
		q += vl
	}
	if remarkLen == 0 && n == 0 {
		return nil
	}
	// hs covers remark and extFields; offsets into it are offsets into b
	// minus remarkAt.
	hs := string(b[remarkAt : extAt+extLen])
	c.Remark = hs[:remarkLen]
	if n == 0 {
		return nil
	}
	d := newDecodedExt(n)
	for q, end := extAt-remarkAt, extAt-remarkAt+extLen; q < end; {
		kl := int(uint16(hs[q])<<8 | uint16(hs[q+1]))
		q += 2
		k := hs[q : q+kl]
		q += kl
		vl := int(uint32(hs[q])<<24 | uint32(hs[q+1])<<16 | uint32(hs[q+2])<<8 | uint32(hs[q+3]))
		q += 4
		// Java's readStr reads a zero length as null, and a null value is
		// an absent field to decodeCommandCustomHeader: so it is here.
		d.put(k, hs[q:q+vl], vl == 0)
		q += vl
	}
	d.set(c)
	return nil
}
