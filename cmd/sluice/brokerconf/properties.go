package brokerconf

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Property is one key=value pair with the line it came from.
type Property struct {
	Key, Value string
	Line       int
}

// ParseProperties reads Java properties syntax: "key=value", "key: value"
// or "key value"; '#' and '!' start comment lines; a trailing backslash
// continues the line. Values are trimmed on both sides (Java keeps trailing
// blanks, which only ever turns "10911 " into a value RocketMQ silently
// ignores).
func ParseProperties(r io.Reader) ([]Property, error) {
	var out []Property
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	lineNo, startLine := 0, 0
	var pending strings.Builder
	for sc.Scan() {
		lineNo++
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if pending.Len() == 0 {
			startLine = lineNo
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
		}
		if strings.HasSuffix(line, `\`) && !strings.HasSuffix(line, `\\`) {
			pending.WriteString(strings.TrimSuffix(line, `\`))
			continue
		}
		pending.WriteString(line)
		full := pending.String()
		pending.Reset()
		key, value := splitProperty(full)
		if key == "" {
			return nil, fmt.Errorf("line %d: no key in %q", startLine, full)
		}
		out = append(out, Property{Key: key, Value: strings.TrimSpace(value), Line: startLine})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}
	if pending.Len() > 0 {
		key, value := splitProperty(pending.String())
		out = append(out, Property{Key: key, Value: strings.TrimSpace(value), Line: startLine})
	}
	return out, nil
}

func splitProperty(s string) (key, value string) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '=', ':':
			return strings.TrimSpace(s[:i]), s[i+1:]
		case ' ', '\t', '\f':
			rest := strings.TrimLeft(s[i:], " \t\f")
			if rest != "" && (rest[0] == '=' || rest[0] == ':') {
				rest = rest[1:]
			}
			return s[:i], rest
		}
	}
	return s, ""
}
