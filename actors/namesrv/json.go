package namesrv

import "encoding/json"

// unmarshalLenient decodes standard JSON and, failing that, fastjson's
// default dialect. Java brokers and name servers talking to an old client
// write map keys that are not strings unquoted ({0:"addr"}); fastjson
// reads them back, encoding/json does not.
func unmarshalLenient(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	if fixed := quoteBareKeys(data); fixed != nil {
		if json.Unmarshal(fixed, v) == nil {
			return nil
		}
	}
	return err
}

// quoteBareKeys puts quotes around object keys written without them and
// returns nil if there were none. It follows strings and nesting only as
// far as needed to know where a key may start; anything else it copies
// unchanged and leaves for the decoder to judge.
func quoteBareKeys(in []byte) []byte {
	out := make([]byte, 0, len(in)+16)
	var nesting []byte // '{' or '[' per open level
	expectKey := false
	changed := false
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(in) && in[j] != '"' {
				if in[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(in) {
				return nil // unterminated string: nothing to rescue
			}
			out = append(out, in[i:j+1]...)
			i = j
			expectKey = false
		case c == '{':
			nesting = append(nesting, c)
			expectKey = true
			out = append(out, c)
		case c == '[':
			nesting = append(nesting, c)
			expectKey = false
			out = append(out, c)
		case c == '}' || c == ']':
			if len(nesting) > 0 {
				nesting = nesting[:len(nesting)-1]
			}
			expectKey = false
			out = append(out, c)
		case c == ',':
			expectKey = len(nesting) > 0 && nesting[len(nesting)-1] == '{'
			out = append(out, c)
		case isJSONSpace(c):
			out = append(out, c)
		case expectKey:
			j := i
			for j < len(in) && in[j] != ':' && in[j] != ',' && in[j] != '}' && !isJSONSpace(in[j]) {
				j++
			}
			out = append(out, '"')
			out = append(out, in[i:j]...)
			out = append(out, '"')
			i = j - 1
			expectKey = false
			changed = true
		default:
			out = append(out, c)
		}
	}
	if !changed {
		return nil
	}
	return out
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
