package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// bsTable is one table of benchstat's CSV output: one unit, a column per
// value of the -col projection, a row per value of the -row projection.
type bsTable struct {
	unit  string
	cols  []string // in benchstat's order
	rows  []string // in benchstat's order, without the geomean row
	cells map[[2]string]bsCell
}

// bsCell is one row's figures in one column: the median (in benchstat's
// tidied unit: seconds for ns), its 95% confidence interval as benchstat
// prints it (±%), and, for columns after the first, the change against the
// first column and its p-value ("~" when not significant).
type bsCell struct {
	has    bool // a median was given
	center float64
	ci     string
	vs     string
	p      string
}

// cell returns the figures of row in col; ok is false when the table
// (nil for a unit not measured) gives no median there.
func (t *bsTable) cell(row, col string) (bsCell, bool) {
	if t == nil {
		return bsCell{}, false
	}
	c := t.cells[[2]string{row, col}]
	return c, c.has
}

// bsTables are the tables of one benchstat run, by unit.
type bsTables map[string]*bsTable

// benchstat runs the benchstat command on the benchmark lines given, with
// -format csv and args (projections), and reads its tables.
func benchstat(lines []string, args ...string) (bsTables, error) {
	if len(lines) == 0 {
		return nil, nil
	}
	f, err := os.CreateTemp("", "report-benchstat-*.txt")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("benchstat", append(append([]string{"-format", "csv"}, args...), f.Name())...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("benchstat %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return parseBenchstatCSV(out)
}

// parseBenchstatCSV reads benchstat -format csv output: blocks separated by
// blank lines, each one table (two header rows: the columns' names, then
// the unit, CI, "vs base" and P under them), after the configuration lines
// ("goos: linux") benchstat repeats from its input.
func parseBenchstatCSV(out []byte) (bsTables, error) {
	tables := bsTables{}
	for _, block := range strings.Split(string(out), "\n\n") {
		var csvLines []string
		for _, line := range strings.Split(block, "\n") {
			if strings.Contains(line, ",") {
				csvLines = append(csvLines, line)
			}
		}
		if len(csvLines) < 3 {
			continue
		}
		rd := csv.NewReader(strings.NewReader(strings.Join(csvLines, "\n")))
		rd.FieldsPerRecord = -1
		recs, err := rd.ReadAll()
		if err != nil {
			return nil, fmt.Errorf("benchstat csv: %w", err)
		}
		head, kinds := recs[0], recs[1]
		t := &bsTable{cells: map[[2]string]bsCell{}}
		group := make([]string, len(kinds))
		cur := ""
		for i := 1; i < len(kinds); i++ {
			if i < len(head) && head[i] != "" {
				cur = head[i]
				t.cols = append(t.cols, cur)
			}
			group[i] = cur
			if k := kinds[i]; t.unit == "" && k != "CI" && k != "vs base" && k != "P" {
				t.unit = k
			}
		}
		for _, rec := range recs[2:] {
			if rec[0] == "geomean" {
				continue
			}
			t.rows = append(t.rows, rec[0])
			for i := 1; i < len(rec) && i < len(kinds); i++ {
				key := [2]string{rec[0], group[i]}
				c := t.cells[key]
				switch kinds[i] {
				case "CI":
					c.ci = rec[i]
				case "vs base":
					c.vs = rec[i]
				case "P":
					c.p = rec[i]
				default:
					v, err := strconv.ParseFloat(rec[i], 64)
					if err != nil {
						continue // an empty cell: no samples
					}
					c.center, c.has = v, true
				}
				t.cells[key] = c
			}
		}
		tables[t.unit] = t
	}
	return tables, nil
}
