package cli

import (
	"encoding/csv"
	"io"
	"strings"
	"unicode/utf8"
)

// consoleWidth is the width vpncmd assumes when it decides whether a list
// fits side by side (80 columns, as on a terminal it cannot measure).
const consoleWidth = 80

// separator is a row value that prints as a line of dashes, like vpncmd's
// "---" rows in the Item|Value tables.
const separator = "\x00---"

// table is vpncmd's output table: either a list (one column per field,
// one row per record) or a "standard" two-column Item|Value table.
type table struct {
	cols     []column
	rows     [][]string
	standard bool
}

type column struct {
	name  string
	right bool // right-aligned (numbers)
}

func newList(cols ...column) *table { return &table{cols: cols} }

// newStandard returns an Item|Value table.
func newStandard() *table {
	return &table{cols: []column{{name: "Item"}, {name: "Value"}}, standard: true}
}

func col(name string) column  { return column{name: name} }
func rcol(name string) column { return column{name: name, right: true} }

func (t *table) add(vals ...string) { t.rows = append(t.rows, vals) }

// item adds one Item|Value row.
func (t *table) item(name, value string) { t.add(name, value) }

// print writes the table as vpncmd does: CSV with /CSV; otherwise side by
// side when it fits in the console width (and always for Item|Value
// tables), else one Item|Value block per record.
func (t *table) print(w io.Writer, asCSV bool) {
	switch {
	case asCSV:
		t.printCSV(w)
	case t.standard:
		printGrid(w, t.cols, t.rows)
	case len(t.rows) == 0 || gridWidth(t.cols, t.rows) >= consoleWidth:
		t.printVertical(w)
	default:
		printGrid(w, t.cols, t.rows)
	}
}

func (t *table) printCSV(w io.Writer) {
	cw := csv.NewWriter(w)
	head := make([]string, len(t.cols))
	for i, c := range t.cols {
		head[i] = c.name
	}
	cw.Write(head)
	for _, r := range t.rows {
		if len(r) > 0 && r[len(r)-1] == separator {
			continue
		}
		cw.Write(r)
	}
	cw.Flush()
}

// printVertical prints each record as Item|Value rows, records separated
// by a dashed line.
func (t *table) printVertical(w io.Writer) {
	var rows [][]string
	for i, r := range t.rows {
		if i > 0 {
			rows = append(rows, []string{separator, separator})
		}
		for j, c := range t.cols {
			v := ""
			if j < len(r) {
				v = r[j]
			}
			rows = append(rows, []string{c.name, v})
		}
	}
	printGrid(w, []column{{name: "Item"}, {name: "Value"}}, rows)
}

func widths(cols []column, rows [][]string) []int {
	wd := make([]int, len(cols))
	for i, c := range cols {
		wd[i] = utf8.RuneCountInString(c.name)
	}
	for _, r := range rows {
		for i := range cols {
			if i < len(r) && r[i] != separator {
				wd[i] = max(wd[i], utf8.RuneCountInString(r[i]))
			}
		}
	}
	return wd
}

func gridWidth(cols []column, rows [][]string) int {
	n := len(cols) - 1
	for _, w := range widths(cols, rows) {
		n += w
	}
	return n
}

// printGrid prints a header, a dashed line and the rows, columns padded to
// their widths and joined by '|' (the last column is not padded on the
// right, as in vpncmd).
func printGrid(w io.Writer, cols []column, rows [][]string) {
	wd := widths(cols, rows)
	var b strings.Builder
	line := func(vals []string, right func(int) bool) {
		for i := range cols {
			if i > 0 {
				b.WriteByte('|')
			}
			v := ""
			if i < len(vals) {
				v = vals[i]
			}
			pad := strings.Repeat(" ", max(0, wd[i]-utf8.RuneCountInString(v)))
			switch {
			case right(i):
				b.WriteString(pad + v)
			case i == len(cols)-1:
				b.WriteString(v)
			default:
				b.WriteString(v + pad)
			}
		}
		b.WriteByte('\n')
	}
	dashes := func() {
		for i := range cols {
			if i > 0 {
				b.WriteByte('+')
			}
			b.WriteString(strings.Repeat("-", wd[i]))
		}
		b.WriteByte('\n')
	}
	head := make([]string, len(cols))
	for i, c := range cols {
		head[i] = c.name
	}
	line(head, func(int) bool { return false })
	dashes()
	for _, r := range rows {
		if len(r) > 0 && r[0] == separator {
			dashes()
			continue
		}
		line(r, func(i int) bool { return cols[i].right })
	}
	io.WriteString(w, b.String())
}
