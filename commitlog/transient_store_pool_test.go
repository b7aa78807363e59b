package commitlog

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestTransientPoolCommitThenRead(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.TransientStorePoolEnable = true
	cfg.TransientStorePoolSize = 2
	cfg.CommitIntervalCommitLog = 3_600_000 // commit by hand
	s := openTestStore(t, cfg)
	if free, total := s.TransientPoolStats(); free != 2 || total != 2 {
		t.Fatalf("pool %d/%d", free, total)
	}
	r := put(t, s, testMessage("P", 0, 0, 100))
	if free, _ := s.TransientPoolStats(); free != 1 {
		t.Fatalf("first file did not borrow a buffer (free %d)", free)
	}
	if err := s.dispatch(); err != nil {
		t.Fatal(err)
	}
	// Appended, not committed: not readable, not dispatched.
	if s.MaxPhyOffset() != 0 || s.MaxOffsetInQueue("P", 0) != 0 {
		t.Fatalf("uncommitted bytes visible: max phy %d", s.MaxPhyOffset())
	}
	if _, err := s.LookMessageByOffset(0); !errors.Is(err, ErrOffsetNotFound) {
		t.Fatalf("read of uncommitted: %v", err)
	}
	if got := s.RuntimeInfo()["remainHowManyDataToCommit"]; got != fmt.Sprint(r.WroteBytes) {
		t.Fatalf("remainHowManyDataToCommit %s", got)
	}
	settle(t, s)
	if got := s.GetMessage("P", 0, 0, 1, nil); got.Status != Found || len(got.Messages[0]) != int(r.WroteBytes) {
		t.Fatalf("after commit: %v", got.Status)
	}
	// Fill the first file: the roll borrows the second buffer, and the first
	// comes back once its file is wholly committed.
	for i := 1; i < 70; i++ {
		put(t, s, testMessage("P", 0, i, 1000))
	}
	if free, _ := s.TransientPoolStats(); free != 0 || !s.IsTransientStorePoolDeficient() {
		t.Fatalf("free %d after the roll", free)
	}
	settle(t, s)
	if free, _ := s.TransientPoolStats(); free != 1 || s.IsTransientStorePoolDeficient() {
		t.Fatalf("buffer not returned (free %d)", free)
	}
	if got := s.GetMessage("P", 0, 0, 100, nil); got.MsgCount != 70 {
		t.Fatalf("read %d of 70", got.MsgCount)
	}
	// The commit goroutine does the same on its own.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.CommitIntervalCommitLog = 10
	s2 := openTestStore(t, cfg)
	if s2.MaxOffsetInQueue("P", 0) != 70 {
		t.Fatalf("after reopen %d", s2.MaxOffsetInQueue("P", 0))
	}
	put(t, s2, testMessage("P", 0, 70, 10))
	checkFor(t, 2*time.Second, func() error {
		if s2.MaxOffsetInQueue("P", 0) != 71 {
			return errors.New("commit service did not commit")
		}
		return nil
	})
}

func TestTransientPoolIgnoredWithSyncFlush(t *testing.T) {
	cfg := testConfig(t.TempDir())
	cfg.TransientStorePoolEnable = true
	cfg.FlushDiskType = SyncFlush
	s := openTestStore(t, cfg)
	if _, total := s.TransientPoolStats(); total != 0 || s.RuntimeInfo()["remainTransientStoreBufferNumbs"] != "2147483647" {
		t.Fatal("pool enabled with SYNC_FLUSH")
	}
}

func TestMlockErrorText(t *testing.T) {
	err := mlockError(unix.ENOMEM, 65536, 5<<30, 0, 5, 1<<30)
	msg := err.Error()
	for _, want := range []string{"RLIMIT_MEMLOCK is 65536 bytes", "5368709120 bytes", "ulimit -l", "LimitMEMLOCK=", "CAP_IPC_LOCK", "transientStorePoolSize=5", "mappedFileSizeCommitLog=1073741824"} {
		if !strings.Contains(msg, want) {
			t.Errorf("mlock error lacks %q:\n%s", want, msg)
		}
	}
	if !errors.Is(err, unix.ENOMEM) {
		t.Error("mlock error does not wrap the errno")
	}
	if msg := mlockError(unix.EPERM, unix.RLIM_INFINITY, 1, 0, 1, 1).Error(); !strings.Contains(msg, "unlimited") {
		t.Error(msg)
	}
}

// TestMlockFailureChild opens a pool-enabled store in a child process that
// runs as an unprivileged user with a tiny RLIMIT_MEMLOCK, where mlock must
// fail and Open must say why. (Root has CAP_IPC_LOCK, so mlock never fails
// in this process.)
func TestMlockFailureChild(t *testing.T) {
	if dir := os.Getenv("SLUICE_MLOCK_CHILD"); dir != "" {
		lim := unix.Rlimit{Cur: 4096, Max: 4096}
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
			fmt.Println("SETRLIMIT", err)
			return
		}
		cfg := testConfig(dir)
		cfg.TransientStorePoolEnable = true
		cfg.TransientStorePoolSize = 2
		_, err := Open(cfg, testLogger(t))
		fmt.Println("OPEN-ERROR:", err)
		return
	}
	if os.Getuid() != 0 {
		t.Skip("needs root to start a child as another user")
	}
	// The child must reach its binary and its store: both go in a
	// world-accessible directory outside t.TempDir's private parent.
	top, err := os.MkdirTemp("", "sluice-mlock-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(top)
	os.Chmod(top, 0o777)
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := top + "/commitlog.test"
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := top + "/store"
	os.Mkdir(dir, 0o777)
	os.Chmod(dir, 0o777)
	cmd := exec.Command(exe, "-test.run=^TestMlockFailureChild$", "-test.v")
	cmd.Dir = top
	cmd.Env = append(os.Environ(), "SLUICE_MLOCK_CHILD="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "OPEN-ERROR") {
		t.Skipf("cannot run the child unprivileged here: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "OPEN-ERROR: commitlog: transient store pool: mlock") ||
		!strings.Contains(string(out), "RLIMIT_MEMLOCK is 4096 bytes") {
		t.Fatalf("child output:\n%s", out)
	}
}
