package remoting

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// UnmarshalLenient decodes standard JSON and, failing that, fastjson's
// default dialect. Java brokers and name servers answering a client older
// than 4.9.4 (the Go client says 317) write integer map keys unquoted
// ({0:"addr"}), and RocketMQ's own JSON files are written the same way;
// fastjson reads them back, encoding/json does not.
func UnmarshalLenient(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	if fixed := QuoteBareKeys(data); len(fixed) != len(data) && json.Unmarshal(fixed, v) == nil {
		return nil
	}
	return err
}

// QuoteBareKeys turns fastjson's unquoted integer object keys ({0:250,
// -1:3}) into standard JSON ({"0":250,"-1":3}). It tracks strings and
// nesting so that digits inside string values or arrays are left alone. Input
// that needs no change is returned as is, without copying.
func QuoteBareKeys(in []byte) []byte {
	var (
		out       []byte // nil until the first change
		copied    int    // in[:copied] has been appended to out
		stack     []byte // '{' or '[' per open container
		inString  bool
		escaped   bool
		expectKey bool // inside an object, where a key may start
	)
	for i := 0; i < len(in); i++ {
		c := in[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			inString = true
			expectKey = false
		case '{':
			stack = append(stack, c)
			expectKey = true
		case '[':
			stack = append(stack, c)
			expectKey = false
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey = false
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] == '{'
		default:
			if expectKey && (c == '-' || (c >= '0' && c <= '9')) {
				j := i + 1
				for j < len(in) && in[j] >= '0' && in[j] <= '9' {
					j++
				}
				k := j
				for k < len(in) && (in[k] == ' ' || in[k] == '\t' || in[k] == '\n' || in[k] == '\r') {
					k++
				}
				if k < len(in) && in[k] == ':' {
					out = append(out, in[copied:i]...)
					out = append(out, '"')
					out = append(out, in[i:j]...)
					out = append(out, '"')
					copied = j
				}
				i = j - 1
			}
			expectKey = false
		}
	}
	if out == nil {
		return in
	}
	return append(out, in[copied:]...)
}

// What follows reads header values the way Java brokers do: fastjson 1.2.x
// (1.2.69 in RocketMQ 4.9, 1.2.83 in 5.x) parsing the JSON header into
// RemotingCommand, whose extFields is a HashMap<String,String> and whose
// code, version, opaque and flag are ints. The rules are taken from
// fastjson's StringCodec#deserialze, IntegerCodec#deserialze,
// TypeUtils#castToInt/#intValue(BigDecimal), JSONLexerBase#scanNumber and
// JSONScanner#numberString/#decimalValue, and every case the tests list
// was checked against fastjson 1.2.83 itself. Only standard JSON is read:
// fastjson also takes 01, 1., -.5, unquoted or single-quoted keys and
// trailing commas, which no JSON encoder writes.

// maxFastjsonNumber is the longest number literal fastjson's lexer takes
// ("scanNumber overflow", "decimal overflow" beyond it).
const maxFastjsonNumber = 65535

// errCompositeValue: fastjson would give the header the object's or
// array's JSON text as re-serialised by fastjson (key order that of a Java
// HashMap, numbers re-rendered). That text cannot be reproduced reliably
// and no RocketMQ client sends it, so such a header is refused with this
// error instead of being decoded into something Java would not have seen.
var errCompositeValue = errors.New("a JSON object or array is not a header value")

// fastjsonText reads raw, one valid JSON value, as fastjson reads it into
// a String field or a HashMap<String,String> value: a string is its
// content, an integer its literal text (numberString: -0 stays "-0", an
// integer beyond int64 keeps all its digits), any other number the
// BigDecimal it parses to as toString() prints it (1e3 is "1E+3"), true
// and false are "true" and "false". null reports ok false: the field keeps
// its value, and HashMap.get on a key mapped to null answers null, which
// RocketMQ treats as absent.
func fastjsonText(raw []byte) (s string, ok bool, err error) {
	if len(raw) == 0 {
		return "", false, errors.New("empty JSON value")
	}
	switch c := raw[0]; {
	case c == '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, err
		}
		return s, true, nil
	case c == 'n':
		return "", false, nil
	case c == 't':
		return "true", true, nil
	case c == 'f':
		return "false", true, nil
	case c == '-' || c >= '0' && c <= '9':
		d, integer, err := parseJSONNumber(raw)
		if err != nil {
			return "", false, err
		}
		if integer {
			return string(raw), true, nil
		}
		return d.String(), true, nil
	}
	return "", false, errCompositeValue
}

// fastjsonInt reads raw, one valid JSON value, as fastjson reads it into
// an int field: an integer within int32; any other number truncated
// toward zero (BigDecimal#intValue); true and false as 1 and 0; a string
// as TypeUtils#castToInt parses it. null, "", "null" and "NULL" report ok
// false: fastjson leaves a primitive field as it was.
//
// Two departures, both for inputs no client writes: fastjson wraps a
// fraction whose integer part exceeds int32 modulo 2^32 (4294967306.5 is
// 10), which is refused here; and Integer.parseInt takes any Unicode
// decimal digits in a string, only ASCII ones are taken here.
func fastjsonInt(raw []byte) (n int32, ok bool, err error) {
	if len(raw) == 0 {
		return 0, false, errors.New("empty JSON value")
	}
	switch c := raw[0]; {
	case c == 'n':
		return 0, false, nil
	case c == 't':
		return 1, true, nil
	case c == 'f':
		return 0, true, nil
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false, err
		}
		return castToInt(s)
	case c == '-' || c >= '0' && c <= '9':
		d, integer, err := parseJSONNumber(raw)
		if err != nil {
			return 0, false, err
		}
		if integer {
			v, err := strconv.ParseInt(string(raw), 10, 32)
			if err != nil {
				return 0, false, fmt.Errorf("integer %s does not fit an int", abbrev(raw))
			}
			return int32(v), true, nil
		}
		v, err := d.truncInt32()
		return v, err == nil, err
	}
	return 0, false, errCompositeValue
}

// castToInt is TypeUtils#castToInt for a string: blank and "null" mean no
// value, commas are dropped, a trailing "." with only zeros after it is
// cut, and what is left goes to Integer.parseInt (sign, leading zeros
// allowed).
func castToInt(s string) (int32, bool, error) {
	if s == "" || s == "null" || s == "NULL" {
		return 0, false, nil
	}
	t := strings.ReplaceAll(s, ",", "")
	if i := strings.LastIndexByte(t, '.'); i >= 0 && strings.Trim(t[i+1:], "0") == "" {
		t = t[:i]
	}
	v, err := strconv.ParseInt(t, 10, 32)
	if err != nil {
		return 0, false, fmt.Errorf("string %q is not an int", abbrev([]byte(s)))
	}
	return int32(v), true, nil
}

// javaDecimal is a java.math.BigDecimal: coeff × 10^-scale.
type javaDecimal struct {
	neg   bool
	coeff []byte // unscaled magnitude, decimal digits, no leading zeros ("0" for zero)
	scale int32
}

// parseJSONNumber parses a JSON number literal as new BigDecimal(text)
// does, with its limits (literal length aside, checked here as fastjson's
// lexer does): an exponent must fit an int, and so must the resulting
// scale. integer reports a literal without fraction or exponent, which
// fastjson keeps as text instead of parsing.
func parseJSONNumber(lit []byte) (d javaDecimal, integer bool, err error) {
	if len(lit) > maxFastjsonNumber {
		return d, false, fmt.Errorf("number of %d characters, fastjson takes at most %d", len(lit), maxFastjsonNumber)
	}
	bad := func() (javaDecimal, bool, error) {
		return javaDecimal{}, false, fmt.Errorf("%s is not a JSON number", abbrev(lit))
	}
	digits := func(i int) int {
		for i < len(lit) && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
		return i
	}
	i := 0
	if i < len(lit) && lit[i] == '-' {
		d.neg = true
		i++
	}
	intStart := i
	i = digits(i)
	intPart := lit[intStart:i]
	if len(intPart) == 0 || len(intPart) > 1 && intPart[0] == '0' {
		return bad()
	}
	var frac []byte
	if i < len(lit) && lit[i] == '.' {
		fracStart := i + 1
		i = digits(fracStart)
		if frac = lit[fracStart:i]; len(frac) == 0 {
			return bad()
		}
	}
	hasExp := false
	var exp int64
	if i < len(lit) && (lit[i] == 'e' || lit[i] == 'E') {
		hasExp = true
		i++
		expNeg := false
		if i < len(lit) && (lit[i] == '+' || lit[i] == '-') {
			expNeg = lit[i] == '-'
			i++
		}
		expStart := i
		i = digits(expStart)
		if i == expStart {
			return bad()
		}
		e := lit[expStart:i]
		for len(e) > 1 && e[0] == '0' {
			e = e[1:]
		}
		if len(e) > 10 {
			return d, false, fmt.Errorf("number %s: exponent overflow", abbrev(lit))
		}
		exp, _ = strconv.ParseInt(string(e), 10, 64) // at most 10 digits
		if expNeg {
			exp = -exp
		}
		if exp < math.MinInt32 || exp > math.MaxInt32 {
			return d, false, fmt.Errorf("number %s: exponent overflow", abbrev(lit))
		}
	}
	if i != len(lit) {
		return bad()
	}
	scale := int64(len(frac)) - exp
	if scale < math.MinInt32 || scale > math.MaxInt32 {
		return d, false, fmt.Errorf("number %s: scale out of range", abbrev(lit))
	}
	d.scale = int32(scale)
	coeff := make([]byte, 0, len(intPart)+len(frac))
	coeff = append(append(coeff, intPart...), frac...)
	for len(coeff) > 1 && coeff[0] == '0' {
		coeff = coeff[1:]
	}
	d.coeff = coeff
	return d, frac == nil && !hasExp, nil
}

func (d javaDecimal) isZero() bool { return len(d.coeff) == 1 && d.coeff[0] == '0' }

// String is BigDecimal#toString: plain digits when the scale is not
// negative and the adjusted exponent is at least -6, otherwise one digit,
// the rest after a point and E±exponent. Zero has no sign.
func (d javaDecimal) String() string {
	var b []byte
	if d.neg && !d.isZero() {
		b = append(b, '-')
	}
	coeff := d.coeff
	if d.scale == 0 {
		return string(append(b, coeff...))
	}
	adjusted := -int64(d.scale) + int64(len(coeff)-1)
	if d.scale > 0 && adjusted >= -6 {
		// The scale is at most len(coeff)+5 here, so the padding is short.
		if pad := int(d.scale) - len(coeff); pad >= 0 {
			b = append(b, '0', '.')
			b = append(b, strings.Repeat("0", pad)...)
			b = append(b, coeff...)
		} else {
			point := len(coeff) - int(d.scale)
			b = append(b, coeff[:point]...)
			b = append(b, '.')
			b = append(b, coeff[point:]...)
		}
		return string(b)
	}
	b = append(b, coeff[0])
	if len(coeff) > 1 {
		b = append(b, '.')
		b = append(b, coeff[1:]...)
	}
	if adjusted != 0 {
		b = append(b, 'E')
		if adjusted > 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, adjusted, 10)
	}
	return string(b)
}

// truncInt32 is TypeUtils#intValue(BigDecimal): the integer part, and for
// a scale beyond ±100 intValueExact, which refuses a fraction. A result
// outside int32 is refused (see fastjsonInt).
func (d javaDecimal) truncInt32() (int32, error) {
	if d.isZero() {
		return 0, nil
	}
	tooBig := func() (int32, error) {
		return 0, fmt.Errorf("number %s does not fit an int", abbrev([]byte(d.String())))
	}
	intPart, frac := d.coeff, []byte(nil)
	switch {
	case d.scale < 0:
		if len(d.coeff)-int(d.scale) > 10 {
			return tooBig()
		}
		intPart = append(append([]byte(nil), d.coeff...), strings.Repeat("0", -int(d.scale))...)
	case int(d.scale) >= len(d.coeff):
		intPart, frac = []byte("0"), d.coeff
	case d.scale > 0:
		point := len(d.coeff) - int(d.scale)
		intPart, frac = d.coeff[:point], d.coeff[point:]
	}
	if d.scale > 100 && strings.Trim(string(frac), "0") != "" {
		return 0, fmt.Errorf("number %s has a fraction and a scale beyond 100: not an int", abbrev([]byte(d.String())))
	}
	if len(intPart) > 10 {
		return tooBig()
	}
	v, _ := strconv.ParseInt(string(intPart), 10, 64) // at most 10 digits
	if d.neg {
		v = -v
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return tooBig()
	}
	return int32(v), nil
}

// abbrev keeps error messages short: a header value can be megabytes.
func abbrev(b []byte) string {
	const max = 40
	if len(b) <= max {
		return string(b)
	}
	return string(b[:max]) + "…"
}
