package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-mq/sluice/actors"
	"github.com/sluice-mq/sluice/actors/metadata"
)

// BrokerPropertiesFile is where UPDATE_BROKER_CONFIG records the
// configuration, under <storePathRootDir>/config: RocketMQ's
// brokerConfigPath (~/store/config/broker.properties). As in RocketMQ it is
// a record of the running configuration, not read at start: broker.conf
// stays the operator's file.
const BrokerPropertiesFile = "broker.properties"

// liveKey is one key UPDATE_BROKER_CONFIG may change while the broker
// runs: its parser (which must not change anything) and the apply step,
// which stores the value where the code that uses it reads it on each use.
type liveKey struct {
	parse func(v string) (any, error)
	apply func(v any)
	get   func() string
}

// liveConfig is the broker's run-time configuration (RocketMQ's
// Configuration): every broker.conf key as started, the keys that can
// change live, the DataVersion, and broker.properties.
type liveConfig struct {
	b      *Broker
	static func() (keys, values []string)
	path   string

	mu      sync.Mutex // serialises updates and the file
	version metadata.DataVersion
	keys    map[string]liveKey
}

func newLiveConfig(b *Broker, static func() (keys, values []string)) *liveConfig {
	c := &liveConfig{
		b: b, static: static,
		path:    filepath.Join(b.cfg.Store.StorePathRootDir, "config", BrokerPropertiesFile),
		version: metadata.DataVersion{Timestamp: time.Now().UnixMilli()},
	}
	c.keys = map[string]liveKey{
		// Read by every send's CheckStoreStatus and reject check, and by
		// the sweep (DefaultMessageStore#isOSPageCacheBusy).
		"osPageCacheBusyTimeOutMills": {
			parse: positiveMillis, apply: func(v any) { b.store.SetOSPageCacheBusyTimeOutMills(v.(int64)) },
			get: func() string { return strconv.FormatInt(b.store.OSPageCacheBusyTimeOutMills(), 10) },
		},
		// Read by each sweep.
		"brokerFastFailureEnable": {
			parse: parseBool, apply: func(v any) { b.sweep.enabled.Store(v.(bool)) },
			get: func() string { return strconv.FormatBool(b.sweep.enabled.Load()) },
		},
		// Read when the next sweep is armed.
		"brokerFastFailurePeriodMillis": {
			parse: positiveMillis, apply: func(v any) { b.sweep.period.Store(int64(millis(v.(int64)))) },
			get: func() string { return strconv.FormatInt(time.Duration(b.sweep.period.Load()).Milliseconds(), 10) },
		},
	}
	// Read by the sweep and by admission control (Processor.WaitLimit).
	for key, proc := range map[string]string{
		"waitTimeMillsInSendQueue":        ProcSend,
		"waitTimeMillsInPullQueue":        ProcPull,
		"waitTimeMillsInHeartbeatQueue":   ProcHeartbeat,
		"waitTimeMillsInTransactionQueue": ProcEndTransaction,
		"waitTimeMillsInAdminBrokerQueue": ProcAdmin,
	} {
		c.keys[key] = liveKey{
			parse: nonNegativeMillis,
			apply: func(v any) {
				if p := c.processor(proc); p != nil {
					p.SetWaitLimit(millis(v.(int64)))
				}
			},
			get: func() string {
				if p := c.processor(proc); p != nil {
					return strconv.FormatInt(p.WaitLimit().Milliseconds(), 10)
				}
				return ""
			},
		}
	}
	return c
}

func (c *liveConfig) processor(name string) *actors.Processor {
	if c.b.routes == nil {
		return nil
	}
	for _, p := range c.b.routes.Processors() {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func positiveMillis(v string) (any, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 {
		return nil, errors.New("want a positive number of milliseconds")
	}
	return n, nil
}

func nonNegativeMillis(v string) (any, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return nil, errors.New("want milliseconds ≥ 0")
	}
	return n, nil
}

func parseBool(v string) (any, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return nil, errors.New("want true or false")
}

// LiveKeys lists the keys UPDATE_BROKER_CONFIG applies while the broker
// runs, sorted.
func (c *liveConfig) LiveKeys() []string {
	keys := make([]string, 0, len(c.keys))
	for k := range c.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Properties is every key as started, with the live keys' current values.
func (c *liveConfig) Properties() (keys, values []string, version string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.propertiesLocked()
}

func (c *liveConfig) propertiesLocked() (keys, values []string, version string) {
	table := map[string]string{}
	if c.static != nil {
		ks, vs := c.static()
		for i, k := range ks {
			table[k] = vs[i]
		}
	} else {
		// Started without broker.conf's key table (tests): the identity
		// keys an operator looks for.
		cfg := &c.b.cfg
		for k, v := range map[string]string{
			"brokerClusterName": cfg.BrokerClusterName, "brokerName": cfg.BrokerName,
			"brokerId": strconv.FormatInt(cfg.BrokerID, 10), "brokerIP1": cfg.BrokerIP1,
			"namesrvAddr": cfg.NamesrvAddr, "listenPort": strconv.Itoa(cfg.ListenPort),
			"storePathRootDir": cfg.Store.StorePathRootDir,
		} {
			table[k] = v
		}
	}
	for k, lk := range c.keys {
		table[k] = lk.get()
	}
	keys = make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	values = make([]string, len(keys))
	for i, k := range keys {
		values[i] = table[k]
	}
	v, _ := json.Marshal(c.version)
	return keys, values, string(v)
}

// Update applies props, all or nothing: each key must be one that can
// change live and its value must parse. The configuration in force is then
// written to broker.properties; if that fails the change is undone, so the
// broker and its record never disagree.
func (c *liveConfig) Update(props map[string]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	parsed := make(map[string]any, len(props))
	var errs []error
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Strings(names)
	known := map[string]bool{}
	if c.static != nil {
		ks, _ := c.static()
		for _, k := range ks {
			known[k] = true
		}
	}
	for _, k := range names {
		lk, ok := c.keys[k]
		switch {
		case !ok && (known[k] || c.static == nil):
			errs = append(errs, fmt.Errorf("%s cannot change while the broker runs: set it in broker.conf and restart (live keys: %s)", k, strings.Join(c.LiveKeys(), ", ")))
		case !ok:
			errs = append(errs, fmt.Errorf("%s is not a broker configuration key", k))
		default:
			v, err := lk.parse(props[k])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s = %q: %w", k, props[k], err))
				continue
			}
			parsed[k] = v
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	old := make(map[string]string, len(parsed))
	for k := range parsed {
		old[k] = c.keys[k].get()
	}
	for k, v := range parsed {
		c.keys[k].apply(v)
	}
	next := c.version.Next(time.Now())
	prev := c.version
	c.version = next
	if err := c.persistLocked(); err != nil {
		// Undo: the running broker and its record stay in step.
		for k, v := range old {
			if pv, err := c.keys[k].parse(v); err == nil {
				c.keys[k].apply(pv)
			}
		}
		c.version = prev
		return fmt.Errorf("nothing changed: %w", err)
	}
	for k, v := range parsed {
		c.b.log.Warn().Str("key", k).Str("from", old[k]).Interface("to", v).Msg("broker configuration changed at run time")
	}
	return nil
}

// persistLocked writes broker.properties (Configuration#persist) through a
// temporary file and a rename.
func (c *liveConfig) persistLocked() error {
	keys, values, _ := c.propertiesLocked()
	var sb strings.Builder
	for i, k := range keys {
		sb.WriteString(k)
		sb.WriteByte('=')
		sb.WriteString(values[i])
		sb.WriteByte('\n')
	}
	if err := os.MkdirAll(filepath.Dir(c.path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	tmp := c.path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	_, err = f.WriteString(sb.String())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, c.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", c.path, err)
	}
	return nil
}
