package metadata

import (
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
)

// configTable is what TopicConfigManager and SubscriptionGroupManager have
// in common: a table of configs (V) by name with its DataVersion, kept in
// one JSON file of shape W (the wrapper Java serializes), and a hook run
// after every change. Safe for concurrent use.
type configTable[V, W any] struct {
	cfg  Config
	path string // "" when in memory
	// wrap and unwrap convert between the table and the file's shape.
	wrap     func(map[string]V, DataVersion) W
	unwrap   func(W) (map[string]V, DataVersion)
	onChange atomic.Pointer[func()]

	mu          sync.RWMutex
	table       map[string]V
	dataVersion DataVersion

	// persistMu orders writers of the file: each takes its snapshot under
	// it, so the last write always holds the latest table.
	persistMu sync.Mutex
}

// init starts an empty table at version 0 stamped now, kept in file under
// cfg.Dir (in memory when Dir is empty).
func (t *configTable[V, W]) init(cfg Config, file string, wrap func(map[string]V, DataVersion) W, unwrap func(W) (map[string]V, DataVersion)) {
	t.cfg, t.wrap, t.unwrap = cfg, wrap, unwrap
	if cfg.Dir != "" {
		t.path = filepath.Join(cfg.Dir, file)
	}
	t.table = map[string]V{}
	t.dataVersion = DataVersion{Timestamp: cfg.now().UnixMilli()}
}

// load reads the file (or its backup) over the built-in entries already in
// the table, taking its data version; accept may fix an entry up or refuse
// it. A table loaded from the backup is written back at once rather than
// at the next change.
func (t *configTable[V, W]) load(accept func(name string, v *V) bool) error {
	if t.path == "" {
		return nil
	}
	w, src, err := LoadJSON[W](t.path, t.cfg.Log)
	if err != nil || src == LoadedNothing {
		return err
	}
	table, version := t.unwrap(w)
	for name, v := range table {
		if accept(name, &v) {
			t.table[name] = v
		}
	}
	t.dataVersion = version
	if src == LoadedBackup {
		if err := t.Persist(); err != nil {
			t.cfg.Log.Error().Err(err).Str("file", t.path).Msg("repair config file from its backup")
		}
	}
	return nil
}

// SetOnChange registers fn to run after every change of the table (after
// it is persisted, outside all locks). It runs on the goroutine that made
// the change, often a client's request, so it should hand the work off
// rather than do network I/O itself.
func (t *configTable[V, W]) SetOnChange(fn func()) {
	if fn == nil {
		t.onChange.Store(nil)
		return
	}
	t.onChange.Store(&fn)
}

func (t *configTable[V, W]) get(name string) (V, bool) {
	t.mu.RLock()
	v, ok := t.table[name]
	t.mu.RUnlock()
	return v, ok
}

// getOrCreate returns name's entry, or stores the one build makes under
// the write lock (build may read t.table) and bumps the version; build
// refuses with false. The caller persists and notifies a created entry
// (changed).
func (t *configTable[V, W]) getOrCreate(name string, build func() (V, bool)) (v V, created, ok bool) {
	if v, ok := t.get(name); ok {
		return v, false, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok := t.table[name]; ok {
		return v, false, true
	}
	if v, ok = build(); !ok {
		return v, false, false
	}
	t.table[name] = v
	t.dataVersion = t.dataVersion.Next(t.cfg.now())
	return v, true, true
}

// put stores v under name and bumps the version.
func (t *configTable[V, W]) put(name string, v V) (old V, existed bool) {
	t.mu.Lock()
	old, existed = t.table[name]
	t.table[name] = v
	t.dataVersion = t.dataVersion.Next(t.cfg.now())
	t.mu.Unlock()
	return old, existed
}

// remove deletes name and bumps the version if it was there.
func (t *configTable[V, W]) remove(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.table[name]; !ok {
		return false
	}
	delete(t.table, name)
	t.dataVersion = t.dataVersion.Next(t.cfg.now())
	return true
}

// All returns a copy of the table.
func (t *configTable[V, W]) All() map[string]V {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return maps.Clone(t.table)
}

// names returns the table's keys, sorted.
func (t *configTable[V, W]) names() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return slices.Sorted(maps.Keys(t.table))
}

// DataVersion returns the current data version.
func (t *configTable[V, W]) DataVersion() DataVersion {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.dataVersion
}

// snapshot is the table and its data version taken together, in the
// file's shape: a version must never be paired with a table older than it.
func (t *configTable[V, W]) snapshot() W {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.wrap(maps.Clone(t.table), t.dataVersion)
}

// Persist writes the file (a no-op in memory).
func (t *configTable[V, W]) Persist() error {
	if t.path == "" {
		return nil
	}
	t.persistMu.Lock()
	defer t.persistMu.Unlock()
	return PersistJSON(t.path, t.snapshot())
}

// saved persists, runs OnChange and returns the persistence error.
func (t *configTable[V, W]) saved() error {
	err := t.Persist()
	if fn := t.onChange.Load(); fn != nil {
		(*fn)()
	}
	return err
}

// changed is saved for changes the caller cannot fail: a failure to
// persist is logged, the entry exists in memory and the next change
// writes it.
func (t *configTable[V, W]) changed() {
	if err := t.saved(); err != nil {
		t.cfg.Log.Error().Err(err).Str("file", t.path).Msg("persist config file")
	}
}
