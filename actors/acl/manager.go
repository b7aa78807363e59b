package acl

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"
)

// Config locates the ACL files, as PlainPermissionManager does: the
// default file home/PlainFile (-Drocketmq.acl.plain.file, default
// conf/plain_acl.yml) and every *.yml / *.yaml under home/conf/acl.
type Config struct {
	// Home is RocketMQ's rocketmq.home.dir / ROCKETMQ_HOME.
	Home string
	// PlainFile is the default ACL file, relative to Home unless absolute.
	PlainFile string
	// WatchInterval is how often the files are checked for changes
	// (AclFileWatchService); 0 means DefaultWatchInterval.
	WatchInterval time.Duration
}

// DefaultPlainFile and DefaultWatchInterval are RocketMQ's.
const (
	DefaultPlainFile     = "conf/plain_acl.yml"
	DefaultWatchInterval = 500 * time.Millisecond
)

// DefaultFile is the path of the default ACL file.
func (c Config) DefaultFile() string {
	p := c.PlainFile
	if p == "" {
		p = DefaultPlainFile
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(c.Home, p)
}

// Dir is the multi-file directory, home/conf/acl; "" without a home.
func (c Config) Dir() string {
	if c.Home == "" {
		return ""
	}
	return filepath.Join(c.Home, "conf", "acl")
}

// snapshot is one consistent load of every ACL file; requests read it
// without locks and a reload replaces it whole.
type snapshot struct {
	global   []remoteAddressStrategy
	accounts map[string]*account
	files    []string
	versions map[string]DataVersion
	digest   [sha256.Size]byte
}

// PlainPermissionManager owns the ACL files: it loads them, reloads them
// when they change, and rewrites them for the ACL admin codes.
type PlainPermissionManager struct {
	cfg  Config
	log  zerolog.Logger
	snap atomic.Pointer[snapshot]
	// mu serialises rewrites of the files (RocketMQ's synchronized
	// handlers) and reloads.
	mu     sync.Mutex
	failed [sha256.Size]byte // digest of the last load that failed, logged once
	// seen is the digest the previous poll saw: a change is loaded only
	// once two polls agree, so that a file caught half written by an
	// editor (truncated, say: no accounts at all) is never loaded.
	seen       [sha256.Size]byte
	stop, done chan struct{}
}

// NewPlainPermissionManager loads the ACL files. A missing default file is
// created empty, as RocketMQ does (its directory must exist); a malformed
// one is an error.
func NewPlainPermissionManager(cfg Config, log zerolog.Logger) (*PlainPermissionManager, error) {
	if cfg.WatchInterval <= 0 {
		cfg.WatchInterval = DefaultWatchInterval
	}
	m := &PlainPermissionManager{cfg: cfg, log: log}
	def := cfg.DefaultFile()
	if _, err := os.Stat(def); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(def, nil, 0o600); err != nil {
			return nil, fmt.Errorf("acl: create %s: %w", def, err)
		}
		log.Warn().Str("file", def).Msg("acl: created an empty ACL file: no account is admitted until one is added")
	}
	s, err := m.load()
	if err != nil {
		return nil, err
	}
	m.snap.Store(s)
	log.Info().Strs("files", s.files).Int("accounts", len(s.accounts)).Int("globalWhiteRemoteAddresses", len(s.global)).Msg("acl: plain ACL loaded")
	return m, nil
}

// Start polls the files every WatchInterval and reloads them on a change
// that two polls in a row see.
func (m *PlainPermissionManager) Start() {
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(m.done)
		t := time.NewTicker(m.cfg.WatchInterval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.poll()
			}
		}
	}()
}

// Stop ends the polling.
func (m *PlainPermissionManager) Stop() {
	if m.stop != nil {
		close(m.stop)
		<-m.done
		m.stop = nil
	}
}

// Reload reloads the files if they changed since the last load. A file
// that does not parse keeps the previous accounts; why is logged once per
// version of the files.
func (m *PlainPermissionManager) Reload() {
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = m.reloadLocked(false)
}

// poll is one tick of the watch: Reload, once the files have stayed the
// same since the previous tick.
func (m *PlainPermissionManager) poll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = m.reloadLocked(true)
}

func (m *PlainPermissionManager) reloadLocked(settle bool) error {
	files, digest, err := m.fingerprint()
	if err != nil {
		m.log.Error().Err(err).Msg("acl: cannot read the ACL files; keeping the accounts loaded before")
		return err
	}
	if digest == m.snap.Load().digest {
		m.seen = digest
		return nil
	}
	if settle && digest != m.seen {
		m.seen = digest
		return nil
	}
	m.seen = digest
	s, err := m.parse(files, digest)
	if err != nil {
		if digest != m.failed {
			m.failed = digest
			m.log.Error().Err(err).Msg("acl: ACL file malformed; keeping the accounts loaded before")
		}
		return err
	}
	m.snap.Store(s)
	m.log.Info().Strs("files", s.files).Int("accounts", len(s.accounts)).Msg("acl: ACL files changed, reloaded")
	return nil
}

func (m *PlainPermissionManager) load() (*snapshot, error) {
	files, digest, err := m.fingerprint()
	if err != nil {
		return nil, err
	}
	return m.parse(files, digest)
}

// aclFiles lists the files RocketMQ reads: those under conf/acl, then the
// default file if it is not among them.
func (m *PlainPermissionManager) aclFiles() ([]string, error) {
	var files []string
	if dir := m.cfg.Dir(); dir != "" {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == dir && errors.Is(err, fs.ErrNotExist) {
					return filepath.SkipDir
				}
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("acl: list %s: %w", dir, err)
		}
	}
	if def := m.cfg.DefaultFile(); !slices.Contains(files, def) {
		if _, err := os.Stat(def); err == nil {
			files = append(files, def)
		}
	}
	return files, nil
}

type fileData struct {
	path string
	data []byte
}

// fingerprint reads every file and hashes names and contents: RocketMQ's
// FileWatchService compares MD5s too, which catches a rewrite that keeps
// the size and the mtime.
func (m *PlainPermissionManager) fingerprint() ([]fileData, [sha256.Size]byte, error) {
	var digest [sha256.Size]byte
	paths, err := m.aclFiles()
	if err != nil {
		return nil, digest, err
	}
	h := sha256.New()
	out := make([]fileData, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, digest, fmt.Errorf("acl: read %s: %w", p, err)
		}
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write(b)
		h.Write([]byte{0})
		out = append(out, fileData{p, b})
	}
	h.Sum(digest[:0])
	return out, digest, nil
}

// parse is PlainPermissionManager#load over files already read.
func (m *PlainPermissionManager) parse(files []fileData, digest [sha256.Size]byte) (*snapshot, error) {
	s := &snapshot{accounts: map[string]*account{}, versions: map[string]DataVersion{}, digest: digest}
	for _, f := range files {
		s.files = append(s.files, f.path)
		var doc aclFile
		if err := yaml.Unmarshal(f.data, &doc); err != nil {
			return nil, fmt.Errorf("acl: parse %s: %w", f.path, err)
		}
		for _, w := range doc.GlobalWhiteRemoteAddresses {
			st, err := parseRemoteAddress(w)
			if err != nil {
				return nil, fmt.Errorf("acl: %s: globalWhiteRemoteAddresses: %w", f.path, err)
			}
			s.global = append(s.global, st)
		}
		for i := range doc.Accounts {
			a, err := buildAccount(&doc.Accounts[i], f.path)
			if err != nil {
				return nil, fmt.Errorf("acl: %s: %w", f.path, err)
			}
			if prev, dup := s.accounts[a.accessKey]; dup {
				// RocketMQ keeps the first and warns.
				m.log.Warn().Str("accessKey", a.accessKey).Str("file", f.path).Str("keptFrom", prev.file).
					Msg("acl: the accessKey is repeated in multiple ACL files")
				continue
			}
			s.accounts[a.accessKey] = a
		}
		var v DataVersion
		if len(doc.DataVersion) > 0 {
			v = doc.DataVersion[0]
		}
		s.versions[f.path] = v
	}
	return s, nil
}

// readFile reads one ACL file for a rewrite; a missing file is empty.
func readFile(path string) (aclFile, error) {
	var doc aclFile
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return doc, nil
	}
	if err != nil {
		return doc, fmt.Errorf("read %s: %w", path, err)
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return doc, fmt.Errorf("parse %s: %w", path, err)
	}
	return doc, nil
}

// writeFile replaces an ACL file atomically (a temporary file renamed over
// it), with the next data version (updateAclConfigFileVersion), then
// reloads so that the change applies before the answer goes out.
func (m *PlainPermissionManager) writeFile(path string, doc aclFile) error {
	var v DataVersion
	if len(doc.DataVersion) > 0 {
		v = doc.DataVersion[0]
	}
	v.Counter++
	v.Timestamp = time.Now().UnixMilli()
	doc.DataVersion = []DataVersion{v}
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if errClose := tmp.Close(); err == nil {
		err = errClose
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := m.reloadLocked(false); err != nil {
		return fmt.Errorf("reload after writing %s: %w", path, err)
	}
	return nil
}

// UpdateAccessConfig is PlainPermissionManager#updateAccessConfig: it
// updates the account in the file that holds it, or adds it to the
// default file. Fields the request leaves empty keep their old values.
func (m *PlainPermissionManager) UpdateAccessConfig(c PlainAccessConfig) error {
	if err := checkPlainAccessConfig(&c); err != nil {
		return err
	}
	if err := checkResourcePerms(c.TopicPerms); err != nil {
		return err
	}
	if err := checkResourcePerms(c.GroupPerms); err != nil {
		return err
	}
	if _, err := buildAccount(&c, ""); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	path := m.cfg.DefaultFile()
	if a, ok := m.snap.Load().accounts[c.AccessKey]; ok {
		path = a.file
	}
	doc, err := readFile(path)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(doc.Accounts, func(a PlainAccessConfig) bool { return a.AccessKey == c.AccessKey })
	if i < 0 {
		doc.Accounts = append(doc.Accounts, c)
	} else {
		doc.Accounts[i] = mergeAccount(doc.Accounts[i], c)
	}
	return m.writeFile(path, doc)
}

// mergeAccount is createAclAccessConfigMap: what the update sets replaces
// the old value.
func mergeAccount(old, c PlainAccessConfig) PlainAccessConfig {
	old.SecretKey = c.SecretKey
	old.Admin = c.Admin
	if c.WhiteRemoteAddress != "" {
		old.WhiteRemoteAddress = c.WhiteRemoteAddress
	}
	if c.DefaultTopicPerm != "" {
		old.DefaultTopicPerm = c.DefaultTopicPerm
	}
	if c.DefaultGroupPerm != "" {
		old.DefaultGroupPerm = c.DefaultGroupPerm
	}
	if c.TopicPerms != nil {
		old.TopicPerms = c.TopicPerms
	}
	if c.GroupPerms != nil {
		old.GroupPerms = c.GroupPerms
	}
	return old
}

// DeleteAccessConfig is PlainPermissionManager#deleteAccessConfig; it
// reports false when no file holds the account.
func (m *PlainPermissionManager) DeleteAccessConfig(accessKey string) (bool, error) {
	if accessKey == "" {
		return false, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.snap.Load().accounts[accessKey]
	if !ok {
		return false, nil
	}
	doc, err := readFile(a.file)
	if err != nil {
		return false, err
	}
	i := slices.IndexFunc(doc.Accounts, func(c PlainAccessConfig) bool { return c.AccessKey == accessKey })
	if i < 0 {
		return false, nil
	}
	doc.Accounts = slices.Delete(doc.Accounts, i, i+1)
	return true, m.writeFile(a.file, doc)
}

// UpdateGlobalWhiteAddrs is updateGlobalWhiteAddrsConfig: it replaces the
// global white list of one ACL file (the default one when path is empty),
// which must be one of the files loaded.
func (m *PlainPermissionManager) UpdateGlobalWhiteAddrs(addrs []string, path string) error {
	for _, a := range addrs {
		if _, err := parseRemoteAddress(a); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if path == "" {
		path = m.cfg.DefaultFile()
	}
	path = filepath.Clean(path)
	if !slices.Contains(m.snap.Load().files, path) {
		return fmt.Errorf("Parameter value %s is not an ACL file of this broker", path)
	}
	doc, err := readFile(path)
	if err != nil {
		return err
	}
	doc.GlobalWhiteRemoteAddresses = addrs
	return m.writeFile(path, doc)
}

// AllAclConfig is getAllAclConfig: every account once (the first file
// that names it wins) and every global white address.
func (m *PlainPermissionManager) AllAclConfig() (globalWhiteAddrs []string, accounts []PlainAccessConfig, err error) {
	seen := map[string]bool{}
	for _, p := range m.snap.Load().files {
		doc, err := readFile(p)
		if err != nil {
			return nil, nil, err
		}
		globalWhiteAddrs = append(globalWhiteAddrs, doc.GlobalWhiteRemoteAddresses...)
		for _, a := range doc.Accounts {
			if !seen[a.AccessKey] {
				seen[a.AccessKey] = true
				accounts = append(accounts, a)
			}
		}
	}
	return globalWhiteAddrs, accounts, nil
}

// Versions is each file's data version, and the default file's.
func (m *PlainPermissionManager) Versions() (def DataVersion, all map[string]DataVersion) {
	s := m.snap.Load()
	return s.versions[m.cfg.DefaultFile()], s.versions
}

// SecretOf is an account's secret key, for a front that verifies its own
// signature scheme before the validator checks permissions (the gRPC
// front's MQv2-HMAC-SHA1 authorization header).
func (m *PlainPermissionManager) SecretOf(accessKey string) (string, bool) {
	a, ok := m.snap.Load().accounts[accessKey]
	if !ok {
		return "", false
	}
	return string(a.secret), true
}
