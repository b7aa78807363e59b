package remoting

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonHeader mirrors RemotingCommand as fastjson reads it (see
// fastjson.go). Language is raw because Java writes the enum name and
// some tools write its ordinal.
type jsonHeader struct {
	Code      jsonInt         `json:"code"`
	Language  json.RawMessage `json:"language"`
	Version   jsonInt         `json:"version"`
	Opaque    jsonInt         `json:"opaque"`
	Flag      jsonInt         `json:"flag"`
	Remark    jsonText        `json:"remark"`
	ExtFields jsonExtFields   `json:"extFields"`
}

// jsonInt is an int field of RemotingCommand: numbers, numeric strings,
// booleans; null leaves it as it was (fastjsonInt). name is set before
// decoding so that an error says which field was wrong.
type jsonInt struct {
	name string
	v    int32
}

func (f *jsonInt) UnmarshalJSON(b []byte) error {
	n, ok, err := fastjsonInt(b)
	if err != nil {
		return fmt.Errorf("%s: %w", f.name, err)
	}
	if ok {
		f.v = n
	}
	return nil
}

// jsonText is RemotingCommand's String remark: strings, numbers and
// booleans as their text; null leaves it as it was (fastjsonText).
type jsonText string

func (v *jsonText) UnmarshalJSON(b []byte) error {
	s, ok, err := fastjsonText(b)
	if err != nil {
		return fmt.Errorf("remark: %w", err)
	}
	if ok {
		*v = jsonText(s)
	}
	return nil
}

// jsonExtFields is RemotingCommand's HashMap<String,String> extFields.
// Each occurrence of the key replaces the map (fastjson sets the field
// again; encoding/json would merge into the map it has), null included.
// A value that is null leaves its key out: RocketMQ's header decoding
// skips a field whose value is null, as it skips a missing one.
type jsonExtFields map[string]string

func (e *jsonExtFields) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == 'n' {
		*e = nil
		return nil
	}
	if len(b) == 0 || b[0] != '{' {
		// fastjson's MapDeserializer fails on anything but an object.
		return fmt.Errorf("extFields is %.20s, want an object", b)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("extFields: %w", err)
	}
	var m map[string]string
	if len(raw) > 0 {
		m = make(map[string]string, len(raw))
	}
	for k, v := range raw {
		s, ok, err := fastjsonText(v)
		if err != nil {
			return fmt.Errorf("extFields %q: %w", abbrev([]byte(k)), err)
		}
		if ok {
			m[k] = s
		}
	}
	*e = m
	return nil
}

// decodeJSONHeader tries the allocation-light scanner first; whatever it
// does not recognise goes to encoding/json with fastjson's value rules,
// which stays the definition of what a valid header means (FuzzDecode
// checks that both agree).
func decodeJSONHeader(b []byte, c *Command) error {
	if scanJSONHeader(b, c) {
		return nil
	}
	st := c.Serialize
	*c = Command{Serialize: st}
	return decodeJSONHeaderStd(b, c)
}

func decodeJSONHeaderStd(b []byte, c *Command) error {
	h := jsonHeader{Code: jsonInt{name: "code"}, Version: jsonInt{name: "version"},
		Opaque: jsonInt{name: "opaque"}, Flag: jsonInt{name: "flag"}}
	if err := json.Unmarshal(b, &h); err != nil {
		return fmt.Errorf("decode JSON header: %w: %v", ErrMalformedHeader, err)
	}
	// Command keeps the version in 16 bits, as the binary header does; the
	// code is Java's int (RocketMQ 5's pop codes need more than 16 bits).
	if f := h.Version; f.v < math.MinInt16 || f.v > math.MaxInt16 {
		return fmt.Errorf("decode JSON header: %w: %s %d does not fit 16 bits", ErrMalformedHeader, f.name, f.v)
	}
	c.Code, c.Version, c.Opaque, c.Flag = h.Code.v, int16(h.Version.v), h.Opaque.v, h.Flag.v
	c.Remark = string(h.Remark)
	c.ExtFields = h.ExtFields
	c.Language = LangOther
	if len(h.Language) > 0 {
		var name string
		if json.Unmarshal(h.Language, &name) == nil {
			c.Language = ParseLanguage(name)
		} else if n, err := strconv.Atoi(string(h.Language)); err == nil && n >= 0 && n < 256 {
			c.Language = LanguageCode(n)
		}
	}
	return nil
}

// maxScanExt bounds the extFields the scanner handles with stack space;
// bigger headers go to encoding/json.
const maxScanExt = 32

// span is a [start, end) range of the header holding a string's content
// or a literal's text; esc says whether it holds escapes, null that it
// stands for an extFields value of null (and is empty).
type span struct {
	start, end int32
	esc, null  bool
}

// Which top-level keys the scanner has seen; a repeated key goes to
// encoding/json, whose merge rules the scanner does not copy.
const (
	seenCode = 1 << iota
	seenLanguage
	seenVersion
	seenOpaque
	seenFlag
	seenRemark
	seenExt
	seenSerialize
)

// scanJSONHeader decodes the header shapes real clients send — the keys
// above, each once, integers, strings with the escapes encoders write,
// extFields values that are strings, integers, booleans or null (as
// JavaScript clients write them), a null remark — into c, and reports
// false on anything else, leaving c in an unspecified state. The content
// of all strings goes into one buffer the command's strings are cut from,
// so a header costs one string allocation however many fields it has;
// keeping one field alive keeps that buffer (a few hundred bytes), never
// the frame or its body.
func scanJSONHeader(b []byte, c *Command) bool {
	if len(b) > 1<<30 {
		return false // spans are int32
	}
	var (
		seen    uint
		remark  span
		lang    span
		ext     [2 * maxScanExt]span
		nExt    int
		code    int64
		version int64
		opaque  int64
		flag    int64
	)
	i := skipJSONSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			k, ok := scanJSONString(b, i)
			if !ok {
				return false
			}
			key := b[k.start:k.end]
			i = skipJSONSpace(b, int(k.end)+1)
			if i >= len(b) || b[i] != ':' {
				return false
			}
			i = skipJSONSpace(b, i+1)
			var bit uint
			switch string(key) {
			case "code":
				bit = seenCode
				code, i, ok = scanJSONInt(b, i, -1<<31, 1<<31-1)
			case "version":
				bit = seenVersion
				version, i, ok = scanJSONInt(b, i, -1<<15, 1<<15-1)
			case "opaque":
				bit = seenOpaque
				opaque, i, ok = scanJSONInt(b, i, -1<<31, 1<<31-1)
			case "flag":
				bit = seenFlag
				flag, i, ok = scanJSONInt(b, i, -1<<31, 1<<31-1)
			case "language":
				bit = seenLanguage
				lang, ok = scanJSONString(b, i)
				ok = ok && !lang.esc // no real client escapes a language name
				i = int(lang.end) + 1
			case "remark":
				bit = seenRemark
				if ok = hasJSONLiteral(b, i, "null"); ok {
					i += len("null") // no remark, as when the key is missing
				} else {
					remark, ok = scanJSONString(b, i)
					i = int(remark.end) + 1
				}
			case "serializeTypeCurrentRPC":
				bit = seenSerialize
				var s span
				s, ok = scanJSONString(b, i)
				i = int(s.end) + 1
			case "extFields":
				bit = seenExt
				nExt, i, ok = scanJSONExt(b, i, &ext)
			default:
				return false
			}
			if !ok || seen&bit != 0 {
				return false
			}
			seen |= bit
			i = skipJSONSpace(b, i)
			if i >= len(b) {
				return false
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return false
			}
			i = skipJSONSpace(b, i+1)
		}
	}
	if skipJSONSpace(b, i) != len(b) {
		return false
	}

	// Only now that the whole header is known to be good: allocate one
	// buffer for the content of every string and cut them from it.
	total := int(remark.end - remark.start)
	for _, sp := range ext[:2*nExt] {
		total += int(sp.end - sp.start)
	}
	var sb strings.Builder
	if total > 0 {
		sb.Grow(total) // unescaped content is never longer than escaped
	}
	put := func(sp span) span {
		at := int32(sb.Len())
		if sp.esc {
			unescapeJSON(&sb, b[sp.start:sp.end])
		} else {
			sb.Write(b[sp.start:sp.end])
		}
		return span{start: at, end: int32(sb.Len()), null: sp.null}
	}
	remark = put(remark)
	for j := range ext[:2*nExt] {
		ext[j] = put(ext[j])
	}
	hs := sb.String()

	c.Code, c.Version, c.Opaque, c.Flag = int32(code), int16(version), int32(opaque), int32(flag)
	c.Language = LangOther
	if seen&seenLanguage != 0 {
		c.Language = parseLanguageBytes(b[lang.start:lang.end])
	}
	c.Remark = hs[remark.start:remark.end]
	if nExt > 0 {
		d := newDecodedExt(nExt)
		for j := 0; j < 2*nExt; j += 2 {
			d.put(hs[ext[j].start:ext[j].end], hs[ext[j+1].start:ext[j+1].end], ext[j+1].null)
		}
		d.set(c)
	}
	return true
}

// parseLanguageBytes is ParseLanguage without converting b to a string.
func parseLanguageBytes(b []byte) LanguageCode {
	for i, n := range languageNames {
		if string(b) == n {
			return LanguageCode(i)
		}
	}
	return LangOther
}

// scanJSONExt scans the extFields object starting at b[i] into pairs of
// key and value spans. It returns the number of pairs and the index after
// the closing brace.
func scanJSONExt(b []byte, i int, ext *[2 * maxScanExt]span) (int, int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, i, false
	}
	i = skipJSONSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return 0, i + 1, true
	}
	n := 0
	for {
		if n == maxScanExt {
			return 0, i, false
		}
		k, ok := scanJSONString(b, i)
		if !ok {
			return 0, i, false
		}
		i = skipJSONSpace(b, int(k.end)+1)
		if i >= len(b) || b[i] != ':' {
			return 0, i, false
		}
		i = skipJSONSpace(b, i+1)
		v, next, ok := scanJSONExtValue(b, i)
		if !ok {
			return 0, i, false
		}
		ext[2*n], ext[2*n+1] = k, v
		n++
		i = skipJSONSpace(b, next)
		if i >= len(b) {
			return 0, i, false
		}
		switch b[i] {
		case '}':
			return n, i + 1, true
		case ',':
			i = skipJSONSpace(b, i+1)
		default:
			return 0, i, false
		}
	}
}

// scanJSONExtValue scans the extFields value at b[i] and returns its span
// and the index after it. A string's span is its content; an integer's or
// a boolean's is its literal text, which is what fastjson hands the broker
// for them (fastjsonText); null gives an empty span marked null. Numbers
// with a fraction or an exponent (BigDecimal text to render) and objects
// or arrays (refused) are left to encoding/json.
func scanJSONExtValue(b []byte, i int) (span, int, bool) {
	if i >= len(b) {
		return span{}, i, false
	}
	switch c := b[i]; {
	case c == '"':
		v, ok := scanJSONString(b, i)
		return v, int(v.end) + 1, ok
	case c == 't' || c == 'f':
		lit := "true"
		if c == 'f' {
			lit = "false"
		}
		if !hasJSONLiteral(b, i, lit) {
			return span{}, i, false
		}
		return span{start: int32(i), end: int32(i + len(lit))}, i + len(lit), true
	case c == 'n':
		if !hasJSONLiteral(b, i, "null") {
			return span{}, i, false
		}
		return span{start: int32(i), end: int32(i), null: true}, i + len("null"), true
	case c == '-' || c >= '0' && c <= '9':
		end, ok := scanJSONIntegerLiteral(b, i)
		if !ok || end-i > maxFastjsonNumber {
			return span{}, i, false
		}
		return span{start: int32(i), end: int32(end)}, end, true
	}
	return span{}, i, false
}

// hasJSONLiteral reports whether b holds lit at i. What follows is checked
// by the caller's grammar (a separator must come next).
func hasJSONLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// scanJSONIntegerLiteral accepts a JSON number at b[i] that has neither
// fraction nor exponent, of any length, and returns the index after it.
func scanJSONIntegerLiteral(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	switch {
	case i == start, i-start > 1 && b[start] == '0':
		return i, false
	case i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E'):
		return i, false
	}
	return i, true
}

// scanJSONString accepts a valid-UTF-8 string at b[i] whose escapes are
// ones unescapeJSON decodes exactly as encoding/json does: the short
// forms and \uXXXX outside the surrogate range (surrogate pairs are left
// to encoding/json; Go and Java encoders write such runes raw). The span
// is the content between the quotes; its end is the closing quote.
func scanJSONString(b []byte, i int) (span, bool) {
	if i >= len(b) || b[i] != '"' {
		return span{}, false
	}
	start := i + 1
	ascii, esc := true, false
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !ascii && !utf8.Valid(b[start:j]) {
				return span{}, false
			}
			return span{start: int32(start), end: int32(j), esc: esc}, true
		case c == '\\':
			if j+1 >= len(b) {
				return span{}, false
			}
			esc = true
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				r := hex4(b[j+2:])
				if r < 0 || r >= 0xD800 && r < 0xE000 {
					return span{}, false
				}
				j += 5
			default:
				return span{}, false
			}
		case c < 0x20:
			return span{}, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return span{}, false
}

// hex4 decodes the 4 hex digits at the start of b, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unescapeJSON writes the content of a string scanJSONString accepted.
func unescapeJSON(sb *strings.Builder, b []byte) {
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && b[j] != '\\' {
			j++
		}
		sb.Write(b[i:j])
		if j >= len(b) {
			return
		}
		switch c := b[j+1]; c {
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			sb.WriteRune(hex4(b[j+2:]))
			i = j + 6
			continue
		default: // " \ /
			sb.WriteByte(c)
		}
		i = j + 2
	}
}

// scanJSONInt accepts a JSON integer (no fraction, no exponent) within
// [lo, hi] at b[i] and returns it with the index after it.
func scanJSONInt(b []byte, i int, lo, hi int64) (int64, int, bool) {
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	start := i
	var n int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int64(b[i]-'0')
		if n > 1<<32 {
			return 0, i, false
		}
		i++
	}
	switch {
	case i == start, i-start > 1 && b[start] == '0':
		return 0, i, false
	case i < len(b) && (b[i] == '.' || b[i] == 'e' || b[i] == 'E'):
		return 0, i, false
	}
	if neg {
		n = -n
	}
	if n < lo || n > hi {
		return 0, i, false
	}
	return n, i, true
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// appendJSONHeader writes the header by hand: encoding/json would allocate
// per field. Keys come in fastjson's (sorted) order so frames are stable
// byte for byte, and every extFields value is a JSON string, which the Go
// client requires (a number there makes it drop the whole response).
func appendJSONHeader(dst []byte, c *Command) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(c.Code), 10)
	dst = append(dst, `,"extFields":{`...)
	n := 0
	if len(c.ExtFields) > 0 {
		var stack [32]extField
		for _, f := range sortedExt(c.ExtFields, stack[:0]) {
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = appendJSONString(dst, f.k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, f.v)
		}
	}
	for i := range c.Fields {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = appendJSONField(dst, &c.Fields[i])
	}
	dst = append(dst, `},"flag":`...)
	dst = strconv.AppendInt(dst, int64(c.Flag), 10)
	dst = append(dst, `,"language":`...)
	if int(c.Language) < len(languageNames) {
		dst = appendJSONString(dst, languageNames[c.Language])
	} else {
		// No name to give: the ordinal decodes back to the same code,
		// where "OTHER" would not.
		dst = strconv.AppendInt(dst, int64(c.Language), 10)
	}
	dst = append(dst, `,"opaque":`...)
	dst = strconv.AppendInt(dst, int64(c.Opaque), 10)
	dst = append(dst, `,"remark":`...)
	dst = appendJSONString(dst, c.Remark)
	dst = append(dst, `,"serializeTypeCurrentRPC":"JSON","version":`...)
	dst = strconv.AppendInt(dst, int64(c.Version), 10)
	return append(dst, '}')
}

// extField is one custom-header entry, collected for sorting.
type extField struct{ k, v string }

// sortedExt appends m's entries to dst sorted by key. Collecting values
// with keys saves a map lookup per field when writing.
func sortedExt(m map[string]string, dst []extField) []extField {
	for k, v := range m {
		dst = append(dst, extField{k, v})
	}
	slices.SortFunc(dst, func(a, b extField) int { return strings.Compare(a.k, b.k) })
	return dst
}

const hexDigits = "0123456789abcdef"

// jsonPlain marks the bytes that go into a JSON string as they are.
var jsonPlain = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// appendJSONString quotes s as a JSON string; invalid UTF-8 becomes U+FFFD
// so the output always parses.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if jsonPlain[s[i]] {
			i++
			continue
		}
		if b := s[i]; b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
