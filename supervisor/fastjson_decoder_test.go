package supervisor_test

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// The decoders here read the admin answers the way RocketMQ's Java tools
// do, written from RocketMQ's sources rather than from Sluice's encoders:
// fastjson's JSON.parseObject (which accepts an object as a map key, as
// Map<MessageQueue, V> is written) and MixAll.string2Properties.

// jobj is a fastjson object: keys may be strings or objects.
type jobj struct {
	keys []any
	vals []any
}

// get returns the value of a string key.
func (o *jobj) get(k string) any {
	if o == nil {
		return nil
	}
	for i, key := range o.keys {
		if s, ok := key.(string); ok && s == k {
			return o.vals[i]
		}
	}
	return nil
}

func (o *jobj) obj(k string) *jobj   { v, _ := o.get(k).(*jobj); return v }
func (o *jobj) num(k string) float64 { v, _ := o.get(k).(float64); return v }
func (o *jobj) str(k string) string  { v, _ := o.get(k).(string); return v }

type fjParser struct {
	s   string
	pos int
}

// parseFastjson parses fastjson's dialect: standard JSON plus non-string
// map keys (objects, numbers).
func parseFastjson(s string) (any, error) {
	p := &fjParser{s: s}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("trailing data at %d", p.pos)
	}
	return v, nil
}

func (p *fjParser) ws() {
	for p.pos < len(p.s) && strings.ContainsRune(" \t\r\n", rune(p.s[p.pos])) {
		p.pos++
	}
}

func (p *fjParser) value() (any, error) {
	p.ws()
	if p.pos >= len(p.s) {
		return nil, fmt.Errorf("unexpected end")
	}
	switch c := p.s[p.pos]; {
	case c == '{':
		p.pos++
		o := &jobj{}
		p.ws()
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			return o, nil
		}
		for {
			k, err := p.value()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.pos >= len(p.s) || p.s[p.pos] != ':' {
				return nil, fmt.Errorf("want ':' at %d", p.pos)
			}
			p.pos++
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			o.keys, o.vals = append(o.keys, k), append(o.vals, v)
			p.ws()
			if p.pos < len(p.s) && p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.pos < len(p.s) && p.s[p.pos] == '}' {
				p.pos++
				return o, nil
			}
			return nil, fmt.Errorf("want ',' or '}' at %d", p.pos)
		}
	case c == '[':
		p.pos++
		var a []any
		p.ws()
		if p.pos < len(p.s) && p.s[p.pos] == ']' {
			p.pos++
			return a, nil
		}
		for {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			p.ws()
			if p.pos < len(p.s) && p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.pos < len(p.s) && p.s[p.pos] == ']' {
				p.pos++
				return a, nil
			}
			return nil, fmt.Errorf("want ',' or ']' at %d", p.pos)
		}
	case c == '"':
		end := p.pos + 1
		for end < len(p.s) && p.s[end] != '"' {
			if p.s[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(p.s) {
			return nil, fmt.Errorf("unterminated string")
		}
		s, err := strconv.Unquote(p.s[p.pos : end+1])
		p.pos = end + 1
		return s, err
	case strings.HasPrefix(p.s[p.pos:], "true"):
		p.pos += 4
		return true, nil
	case strings.HasPrefix(p.s[p.pos:], "false"):
		p.pos += 5
		return false, nil
	case strings.HasPrefix(p.s[p.pos:], "null"):
		p.pos += 4
		return nil, nil
	default:
		end := p.pos
		for end < len(p.s) && strings.ContainsRune("+-0123456789.eE", rune(p.s[end])) {
			end++
		}
		f, err := strconv.ParseFloat(p.s[p.pos:end], 64)
		if err != nil {
			return nil, fmt.Errorf("bad number at %d: %w", p.pos, err)
		}
		p.pos = end
		return f, nil
	}
}

// queueEntry is one Map<MessageQueue, V> entry.
type queueEntry struct {
	topic, brokerName string
	queueID           int
	val               any
}

// queueTable reads a Map<MessageQueue, V> as fastjson maps it.
func queueTable(o *jobj) ([]queueEntry, error) {
	var out []queueEntry
	if o == nil {
		return nil, fmt.Errorf("no table")
	}
	for i, k := range o.keys {
		mq, ok := k.(*jobj)
		if !ok {
			return nil, fmt.Errorf("key %v is not a MessageQueue", k)
		}
		out = append(out, queueEntry{mq.str("topic"), mq.str("brokerName"), int(mq.num("queueId")), o.vals[i]})
	}
	return out, nil
}

// javaProperties is MixAll.string2Properties (Properties#load) for the
// key=value lines RocketMQ writes.
func javaProperties(s string) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			out[line] = ""
			continue
		}
		out[strings.TrimSpace(line[:i])] = strings.TrimSpace(line[i+1:])
	}
	return out
}
