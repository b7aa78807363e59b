package namesrv

import (
	"bytes"
	"strings"
	"sync"
)

// Test helpers shared by this package's tests and the external
// namesrv_test ones; being in a _test file, they exist only in tests.

// LogBuffer is a log sink that a test reads while the code under test
// writes to it from other goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Count is how often s appears in the log so far.
func (l *LogBuffer) Count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
