package main

import (
	"strings"
	"unicode/utf8"
)

// ANSI colours, used only when stdout is a terminal (or --color=always).
const (
	colReset  = "\x1b[0m"
	colBold   = "\x1b[1m"
	colDim    = "\x1b[2m"
	colRed    = "\x1b[31m"
	colGreen  = "\x1b[32m"
	colYellow = "\x1b[33m"
	colCyan   = "\x1b[36m"
)

// cell is one table cell with an optional colour.
type cell struct {
	text  string
	color string
}

func plain(s string) cell { return cell{text: s} }

// row is a table row: cells padded to their column's width, then a tail
// that does not count towards any width. A row with raw set is a line of
// its own (detail under a tree node) and takes no part in the table.
type row struct {
	cells []cell
	tail  cell
	raw   bool
}

// table lays rows out in columns. text/tabwriter cannot be used: it counts
// colour escapes as width.
type table struct {
	rows  []row
	color bool
}

func (t *table) add(r row) { t.rows = append(t.rows, r) }

func (t *table) render(b *strings.Builder) {
	var widths []int
	for _, r := range t.rows {
		if r.raw {
			continue
		}
		for i, c := range r.cells {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
		}
	}
	for _, r := range t.rows {
		var line strings.Builder
		for i, c := range r.cells {
			text := c.text
			// Pad to the column unless nothing follows in this row or this
			// is the last column (whose width would only push a tail away).
			if !r.raw && i < len(widths)-1 && (i < len(r.cells)-1 || r.tail.text != "") {
				text += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c.text)+2)
			} else if !r.raw && r.tail.text != "" {
				text += "  "
			}
			line.WriteString(t.paint(c.color, text))
		}
		if r.tail.text != "" {
			line.WriteString(t.paint(r.tail.color, r.tail.text))
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
}

func (t *table) paint(color, s string) string {
	if !t.color || color == "" || s == "" {
		return s
	}
	// Colour the text, not the padding after it, so that underlines and
	// backgrounds (should we ever use them) do not run across the gap.
	trimmed := strings.TrimRight(s, " ")
	return color + trimmed + colReset + s[len(trimmed):]
}
