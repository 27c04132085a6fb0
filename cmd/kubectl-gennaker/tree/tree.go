// Package tree draws a tree of rows whose cells line up in columns, as `kubectl gennaker get` shows a
// run's stages: the first column carries the tree's branches, the others are aligned across every row,
// and notes (free text under a row) follow the branches without widening any column.
//
// It knows nothing of Gennaker: callers build Nodes. Widths are counted in runes, so the icons used in
// cells must be one column wide.
package tree

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Color is what a cell is painted with when color is on. The text itself must say everything: color
// only repeats it.
type Color int

// Colors.
const (
	None Color = iota
	Green
	Red
	Yellow
	Blue
	Gray
)

var ansi = map[Color]string{Green: "\x1b[32m", Red: "\x1b[31m", Yellow: "\x1b[33m", Blue: "\x1b[34m", Gray: "\x1b[90m"}

// Cell is one column of a row.
type Cell struct {
	Text  string
	Color Color
}

// Node is one row and the rows under it.
type Node struct {
	// Label is the first column, after the branches.
	Label string
	// Cells are the other columns.
	Cells []Cell
	// Notes are lines of text under the row, before its children.
	Notes []string
	// Children are drawn under the row, one level deeper.
	Children []*Node
}

// Table is a header and the trees under it.
type Table struct {
	Header []string
	Roots  []*Node
}

type line struct {
	prefix string
	label  string
	cells  []Cell
	// note, when set, is a line of free text and the other fields but prefix are empty.
	note string
}

// Render writes the table; color paints the cells that have one.
func (t Table) Render(w io.Writer, color bool) error {
	var lines []line
	for _, r := range t.Roots {
		walk(r, "", true, true, &lines)
	}
	cols := len(t.Header)
	for _, l := range lines {
		cols = max(cols, len(l.cells)+1)
	}
	width := make([]int, cols)
	for i, h := range t.Header {
		width[i] = utf8.RuneCountInString(h)
	}
	for _, l := range lines {
		if l.note != "" {
			continue
		}
		width[0] = max(width[0], utf8.RuneCountInString(l.prefix+l.label))
		for i, c := range l.cells {
			width[i+1] = max(width[i+1], utf8.RuneCountInString(c.Text))
		}
	}
	var b strings.Builder
	if len(t.Header) > 0 {
		cells := make([]Cell, len(t.Header)-1)
		for i, h := range t.Header[1:] {
			cells[i] = Cell{Text: h}
		}
		row(&b, width, t.Header[0], cells, false)
	}
	for _, l := range lines {
		if l.note != "" {
			b.WriteString(strings.TrimRight(l.prefix+l.note, " "))
			b.WriteByte('\n')
			continue
		}
		row(&b, width, l.prefix+l.label, l.cells, color)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// row writes one aligned row, two spaces between columns, without trailing blanks.
func row(b *strings.Builder, width []int, first string, cells []Cell, color bool) {
	var s strings.Builder
	s.WriteString(pad(first, width[0]))
	for i, c := range cells {
		s.WriteString("  ")
		text := pad(c.Text, width[i+1])
		if color && c.Color != None && c.Text != "" {
			text = ansi[c.Color] + c.Text + "\x1b[0m" + text[len(c.Text):]
		}
		s.WriteString(text)
	}
	b.WriteString(strings.TrimRight(s.String(), " "))
	b.WriteByte('\n')
}

func pad(s string, n int) string {
	if k := utf8.RuneCountInString(s); k < n {
		return s + strings.Repeat(" ", n-k)
	}
	return s
}

// walk flattens n into lines. indent is the branches of n's ancestors; a root has no branch of its own.
func walk(n *Node, indent string, last, root bool, lines *[]line) {
	branch, below := "├─ ", "│  "
	if last {
		branch, below = "└─ ", "   "
	}
	if root {
		branch, below = "", ""
	}
	*lines = append(*lines, line{prefix: indent + branch, label: n.Label, cells: n.Cells})
	childIndent := indent + below
	notes := childIndent + "   "
	if len(n.Children) > 0 {
		notes = childIndent + "│  "
	}
	for _, note := range n.Notes {
		*lines = append(*lines, line{prefix: notes, note: note})
	}
	for i, c := range n.Children {
		walk(c, childIndent, i == len(n.Children)-1, false, lines)
	}
}

// String is the table without color, for tests and logs.
func (t Table) String() string {
	var b strings.Builder
	if err := t.Render(&b, false); err != nil {
		return fmt.Sprintf("tree: %v", err)
	}
	return b.String()
}
