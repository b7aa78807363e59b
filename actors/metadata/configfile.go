package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/sluice-mq/sluice/remoting"
)

// Config file names under <storePathRootDir>/config/, as RocketMQ's
// BrokerPathConfigHelper names them.
const (
	TopicsFile            = "topics.json"
	ConsumerOffsetFile    = "consumerOffset.json"
	SubscriptionGroupFile = "subscriptionGroup.json"
)

// LoadSource says where LoadJSON found the content.
type LoadSource int

const (
	// LoadedNothing: neither the file nor its .bak exists (or both are
	// empty); the caller starts from its defaults, as RocketMQ does.
	LoadedNothing LoadSource = iota
	// LoadedFile: the file itself.
	LoadedFile
	// LoadedBackup: the file was missing, empty or unreadable, and
	// <file>.bak was used.
	LoadedBackup
)

func (s LoadSource) String() string {
	switch s {
	case LoadedFile:
		return "file"
	case LoadedBackup:
		return "backup"
	default:
		return "nothing"
	}
}

// PersistJSON encodes v as tab-indented standard JSON (RocketMQ writes
// fastjson's pretty format, also with tabs, so operators see the same
// layout) and replaces path with it through WriteFileAtomic.
func PersistJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return fmt.Errorf("persist %s: encode: %w", path, err)
	}
	return WriteFileAtomic(path, append(data, '\n'))
}

// WriteFileAtomic replaces path with data in the order RocketMQ's
// MixAll#string2File uses (write <path>.tmp, copy the current file to
// <path>.bak, move the tmp over the file), made crash safe: the tmp file is
// fsynced before the rename and the directory after it, and the rename
// replaces the file in one step where Java deletes first. At every instant
// path therefore holds either the complete old content or the complete new
// one. A stale .tmp left by a crash is simply overwritten next time.
//
// The old file is copied to .bak only when it parses as JSON: if an
// operator or a disk corrupted it, the previous good backup is worth more
// than a copy of the damage.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("persist %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, data); err != nil {
		return fmt.Errorf("persist %s: %w", path, err)
	}
	old, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(old) > 0 && json.Valid(remoting.QuoteBareKeys(old)) {
			if err := writeFileSync(path+".bak", old); err != nil {
				return fmt.Errorf("persist %s: backup: %w", path, err)
			}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("persist %s: read previous content: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("persist %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("persist %s: %w", path, err)
	}
	return nil
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// LoadJSON decodes path into a fresh T, falling back to <path>.bak when the
// file is missing, empty or does not decode (RocketMQ's ConfigManager#load
// and #loadBak), and logs which one it used. Files written by a Java broker
// are accepted: fastjson's unquoted integer map keys ({0:250}) are quoted
// before decoding.
//
// Neither file present (or both empty) is a fresh start: LoadedNothing and
// no error. Unlike Java, which then starts empty, a file that is present
// but corrupt with no usable backup is an error: starting empty would
// silently forget topics or consumer offsets.
func LoadJSON[T any](path string, log zerolog.Logger) (T, LoadSource, error) {
	v, present, err := decodeFile[T](path)
	if err == nil && present {
		log.Info().Str("file", path).Msg("config loaded")
		return v, LoadedFile, nil
	}
	mainErr := err
	if mainErr != nil {
		log.Error().Err(mainErr).Str("file", path).Msg("config file unreadable, trying its backup")
	}

	bak := path + ".bak"
	v, bakPresent, err := decodeFile[T](bak)
	switch {
	case err == nil && bakPresent:
		log.Warn().Str("file", path).Str("backup", bak).Msg("config loaded from backup")
		return v, LoadedBackup, nil
	case err != nil && mainErr != nil:
		var zero T
		return zero, LoadedNothing, fmt.Errorf("load %s: %w; backup: %w", path, mainErr, err)
	case err != nil:
		// Main file absent or empty, backup damaged: nothing to trust.
		var zero T
		return zero, LoadedNothing, fmt.Errorf("load %s: file missing and backup unreadable: %w", path, err)
	case mainErr != nil:
		var zero T
		return zero, LoadedNothing, fmt.Errorf("load %s (no backup): %w", path, mainErr)
	}
	var zero T
	return zero, LoadedNothing, nil
}

// decodeFile reports present=false for a missing or empty file.
func decodeFile[T any](path string) (v T, present bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return v, false, nil
	}
	if err != nil {
		return v, false, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return v, false, nil
	}
	if err := json.Unmarshal(remoting.QuoteBareKeys(data), &v); err != nil {
		return v, true, fmt.Errorf("decode %s: %w", path, err)
	}
	return v, true, nil
}
