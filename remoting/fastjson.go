package remoting

import "encoding/json"

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
