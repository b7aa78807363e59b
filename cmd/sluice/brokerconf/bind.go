package brokerconf

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// field binds one key to a place in a config struct.
type field struct {
	set func(string) error
	get func() string
}

// fields is a key → field table built over live config structs.
type fields map[string]field

func (f fields) str(key string, p *string) {
	f[key] = field{set: func(v string) error { *p = v; return nil }, get: func() string { return *p }}
}

func (f fields) int(key string, p *int) {
	f[key] = field{
		set: func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("want an integer")
			}
			*p = n
			return nil
		},
		get: func() string { return strconv.Itoa(*p) },
	}
}

func (f fields) int64(key string, p *int64) {
	f[key] = field{
		set: func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("want an integer")
			}
			*p = n
			return nil
		},
		get: func() string { return strconv.FormatInt(*p, 10) },
	}
}

func (f fields) bool(key string, p *bool) {
	f[key] = field{
		set: func(v string) error {
			switch strings.ToLower(v) {
			case "true":
				*p = true
			case "false":
				*p = false
			default:
				return fmt.Errorf("want true or false")
			}
			return nil
		},
		get: func() string { return strconv.FormatBool(*p) },
	}
}

// custom binds a key with its own parser and printer (enums).
func (f fields) custom(key string, set func(string) error, get func() string) {
	f[key] = field{set: set, get: get}
}

func (f fields) keys() []string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
