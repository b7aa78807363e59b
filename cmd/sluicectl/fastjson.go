package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// RocketMQ's admin answers carry Map<MessageQueue, V> tables the way
// fastjson writes them: the MessageQueue object itself is the key
// ({{"brokerName":"b","queueId":0,"topic":"T"}:V}), which encoding/json
// cannot read. toStandardJSON rewrites every object-valued key as a string
// holding that object, so the rest decodes as usual.
func toStandardJSON(in []byte) ([]byte, error) {
	var out strings.Builder
	s := string(in)
	i := 0
	// stack of containers: '{' expecting a key, 'o' object after a key, '['
	var stack []byte
	expectKey := func() bool { return len(stack) > 0 && stack[len(stack)-1] == '{' }
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated string")
			}
			out.WriteString(s[i : j+1])
			i = j + 1
			continue
		case c == '{' && expectKey():
			// An object as a key: copy it whole into a string.
			depth, j := 0, i
			for ; j < len(s); j++ {
				if s[j] == '"' {
					k := j + 1
					for k < len(s) && s[k] != '"' {
						if s[k] == '\\' {
							k++
						}
						k++
					}
					j = k
					continue
				}
				if s[j] == '{' {
					depth++
				} else if s[j] == '}' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated key object")
			}
			q, _ := json.Marshal(s[i : j+1])
			out.Write(q)
			i = j + 1
			stack[len(stack)-1] = 'o'
			continue
		case c == '{':
			stack = append(stack, '{')
		case c == '[':
			stack = append(stack, '[')
		case c == '}' || c == ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case c == ':':
			if len(stack) > 0 && stack[len(stack)-1] == '{' {
				stack[len(stack)-1] = 'o'
			}
		case c == ',':
			if len(stack) > 0 && stack[len(stack)-1] == 'o' {
				stack[len(stack)-1] = '{'
			}
		}
		out.WriteByte(c)
		i++
	}
	return []byte(out.String()), nil
}

// messageQueue is RocketMQ's MessageQueue.
type messageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int    `json:"queueId"`
}

// decodeQueueTable decodes a body whose field holds a Map<MessageQueue, V>
// into keys and values.
func decodeQueueTable[V any](body []byte, field string) ([]messageQueue, []V, map[string]json.RawMessage, error) {
	std, err := toStandardJSON(body)
	if err != nil {
		return nil, nil, nil, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(std, &top); err != nil {
		return nil, nil, nil, err
	}
	var table map[string]V
	if raw, ok := top[field]; ok {
		if err := json.Unmarshal(raw, &table); err != nil {
			return nil, nil, nil, err
		}
	}
	var mqs []messageQueue
	var vals []V
	for k, v := range table {
		var mq messageQueue
		if err := json.Unmarshal([]byte(k), &mq); err != nil {
			return nil, nil, nil, fmt.Errorf("key %s: %w", k, err)
		}
		mqs, vals = append(mqs, mq), append(vals, v)
	}
	return mqs, vals, top, nil
}
