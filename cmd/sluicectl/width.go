package main

import (
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// terminalWidth is the terminal's column count (TIOCGWINSZ), asked again
// for every frame so that a resized window is followed; 0 when w is not a
// terminal or does not say.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}

// truncateLine cuts line to width visible columns, so that a long line
// never wraps and pushes the frame down. ANSI escape sequences (colour)
// take no columns and are kept; when any was cut short the colour is reset.
// Every rune counts as one column (the tree draws with box characters,
// which are one column wide).
func truncateLine(line string, width int) string {
	if width <= 0 {
		return line
	}
	cols, i := 0, 0
	escaped := false
	for i < len(line) {
		if line[i] == 0x1b {
			j := i + 1
			if j < len(line) && line[j] == '[' {
				j++
				for j < len(line) && (line[j] < 0x40 || line[j] > 0x7e) {
					j++
				}
				j++
			}
			escaped = true
			i = min(j, len(line))
			continue
		}
		if cols == width {
			var b strings.Builder
			b.WriteString(line[:i])
			if escaped {
				b.WriteString("\x1b[0m")
			}
			return b.String()
		}
		_, size := utf8.DecodeRuneInString(line[i:])
		i += size
		cols++
	}
	return line
}
