package metadata

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

type doc struct {
	V int `json:"v"`
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, path string) (doc, LoadSource, error) {
	t.Helper()
	return LoadJSON[doc](path, zerolog.Nop())
}

func TestWriteFileAtomicKeepsBackup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config", "x.json") // directory created on demand
	for v := 1; v <= 3; v++ {
		if err := PersistJSON(path, doc{V: v}); err != nil {
			t.Fatal(err)
		}
	}
	got, src, err := load(t, path)
	if err != nil || src != LoadedFile || got.V != 3 {
		t.Fatalf("load = %+v %v %v, want v3 from file", got, src, err)
	}
	bak, _, err := LoadJSON[doc](path+".bak", zerolog.Nop())
	if err != nil || bak.V != 2 {
		t.Fatalf(".bak = %+v %v, want the previous version 2", bak, err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf(".tmp left behind: %v", err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "\t\"v\": 3") {
		t.Fatalf("want tab-indented JSON, got %q", data)
	}
}

// A crash can stop WriteFileAtomic after any step. Each case sets up the
// files as that crash leaves them and checks what the next start loads.
func TestCrashBetweenStepsLeavesOldOrNew(t *testing.T) {
	cases := []struct {
		name  string
		crash func(path string) // applied after v1 and v2 were written normally
		want  int
	}{
		{"half-written tmp", func(p string) { mustWrite(t, p+".tmp", `{"v": 3`) }, 2},
		{"complete tmp, not yet backed up", func(p string) { mustWrite(t, p+".tmp", `{"v":3}`) }, 2},
		{"backup refreshed, tmp not renamed", func(p string) {
			mustWrite(t, p+".tmp", `{"v":3}`)
			mustWrite(t, p+".bak", `{"v":2}`)
		}, 2},
		{"half-written backup, tmp not renamed", func(p string) {
			mustWrite(t, p+".tmp", `{"v":3}`)
			mustWrite(t, p+".bak", `{"v":`)
		}, 2},
		{"renamed, directory not yet synced", func(p string) {
			mustWrite(t, p+".bak", `{"v":2}`)
			mustWrite(t, p, `{"v":3}`)
		}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.json")
			for v := 1; v <= 2; v++ {
				if err := PersistJSON(path, doc{V: v}); err != nil {
					t.Fatal(err)
				}
			}
			tc.crash(path)
			got, src, err := load(t, path)
			if err != nil || src != LoadedFile || got.V != tc.want {
				t.Fatalf("load = %+v %v %v, want v%d from the file", got, src, err, tc.want)
			}
			// And the next write recovers: the stale tmp is overwritten.
			if err := PersistJSON(path, doc{V: 9}); err != nil {
				t.Fatal(err)
			}
			if got, _, _ := load(t, path); got.V != 9 {
				t.Fatalf("after rewrite got %+v", got)
			}
		})
	}
}

func TestLoadFallsBackToBackup(t *testing.T) {
	cases := []struct {
		name, main, bak string // "-" = absent
		want            int
		src             LoadSource
		wantErr         bool
	}{
		{"corrupt main", `{"v":`, `{"v":7}`, 7, LoadedBackup, false},
		{"empty main", ``, `{"v":7}`, 7, LoadedBackup, false},
		{"missing main", "-", `{"v":7}`, 7, LoadedBackup, false},
		{"nothing", "-", "-", 0, LoadedNothing, false},
		{"empty both", "", "", 0, LoadedNothing, false},
		{"corrupt main, no backup", `{"v":`, "-", 0, LoadedNothing, true},
		{"corrupt both", `garbage`, `{"v"`, 0, LoadedNothing, true},
		{"missing main, corrupt backup", "-", `nope`, 0, LoadedNothing, true},
		{"wrong type", `{"v":"x"}`, `{"v":4}`, 4, LoadedBackup, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.json")
			if tc.main != "-" {
				mustWrite(t, path, tc.main)
			}
			if tc.bak != "-" {
				mustWrite(t, path+".bak", tc.bak)
			}
			got, src, err := load(t, path)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if got.V != tc.want || src != tc.src {
				t.Fatalf("got %+v from %v, want %d from %v", got, src, tc.want, tc.src)
			}
		})
	}
}

func TestPersistDoesNotBackUpCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.json")
	mustWrite(t, path+".bak", `{"v":5}`)
	mustWrite(t, path, `{"v":`) // damaged by someone else
	if err := PersistJSON(path, doc{V: 6}); err != nil {
		t.Fatal(err)
	}
	if bak, _, _ := LoadJSON[doc](path+".bak", zerolog.Nop()); bak.V != 5 {
		t.Fatalf("good backup overwritten by damage: %+v", bak)
	}
}

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testConfig(t *testing.T, dir string) (Config, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	cfg := DefaultConfig(dir)
	cfg.Now = clock.Now
	return cfg, clock
}
