package main

import (
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The cost model in docs/performance.md ("Cost at a million connections")
// is hand-written tables: these tests redo its arithmetic, so that a count
// changed in one table and not carried to the bill fails here.

// mdTable returns the rows (cells trimmed) of the first Markdown table
// that starts on or after the line where marker (a heading, or the table's
// own header) starts, without its header and separator rows.
func mdTable(t *testing.T, doc, marker string) [][]string {
	t.Helper()
	i := strings.Index(doc, "\n"+marker)
	if i < 0 {
		t.Fatalf("docs/performance.md has no %q", marker)
	}
	var rows [][]string
	in := false
	for _, line := range strings.Split(doc[i+1:], "\n") {
		if !strings.HasPrefix(line, "|") {
			if in {
				break
			}
			continue
		}
		in = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		rows = append(rows, cells)
	}
	if len(rows) < 3 {
		t.Fatalf("%q: no table", marker)
	}
	return rows[2:]
}

var leadingNumber = regexp.MustCompile(`^[−-]?[0-9][0-9,]*(\.[0-9]+)?`)

// num reads the number a cell starts with ("1,234.5 GB" → 1234.5, "—" → 0,
// "**≈ 835.68**" → 835.68, "−12,000.00" → -12000).
func num(t *testing.T, cell string) float64 {
	t.Helper()
	c := strings.TrimSpace(strings.NewReplacer("**", "", "≈", "", "$", "", "+", "").Replace(cell))
	if c == "—" || c == "" {
		return 0
	}
	m := leadingNumber.FindString(c)
	if m == "" {
		t.Fatalf("no number in %q", cell)
	}
	neg := strings.HasPrefix(m, "−") || strings.HasPrefix(m, "-")
	v, err := strconv.ParseFloat(strings.NewReplacer(",", "", "−", "", "-", "").Replace(m), 64)
	if err != nil {
		t.Fatalf("%q: %v", cell, err)
	}
	if neg {
		v = -v
	}
	return v
}

// pair reads "a / b" (the secrets and sealed counts of one cell).
func pair(t *testing.T, cell string) (float64, float64) {
	t.Helper()
	a, b, ok := strings.Cut(cell, "/")
	if !ok {
		return num(t, cell), num(t, cell)
	}
	return num(t, a), num(t, b)
}

// unitPrice reads "$0.20 / 1M", "$0.05 / 10,000", "$0.40 / secret-month",
// "free" as dollars per unit.
func unitPrice(t *testing.T, cell string) float64 {
	t.Helper()
	if cell == "free" {
		return 0
	}
	p, per, ok := strings.Cut(cell, " / ")
	if !ok {
		t.Fatalf("unit price %q", cell)
	}
	v := num(t, p)
	switch {
	case per == "1M":
		return v / 1e6
	case leadingNumber.MatchString(per):
		return v / num(t, per)
	}
	return v
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func costDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCostModelLinesAndTotals(t *testing.T) {
	bill := mdTable(t, costDoc(t), "### The bill")
	var sum [2]float64
	var total []string
	for _, r := range bill {
		if len(r) != 6 {
			t.Fatalf("bill row %q: %d cells, want 6", r, len(r))
		}
		if strings.Contains(r[0], "total") {
			total = r
			continue
		}
		u := unitPrice(t, r[1])
		for k, col := range []int{2, 4} {
			q, cost := num(t, r[col]), num(t, r[col+1])
			// quantities are shown rounded (126.8 GB of 126.78): a cent of slack
			if !near(q*u, cost, 0.015) {
				t.Errorf("%s: %s × %s = %.4f, the table says %s", r[0], r[col], r[1], q*u, r[col+1])
			}
			sum[k] += cost
		}
	}
	if total == nil {
		t.Fatal("the bill has no total row")
	}
	for k, col := range []int{3, 5} {
		if !near(sum[k], num(t, total[col]), 0.005) {
			t.Errorf("total column %d: the lines add up to %.2f, the table says %s", col, sum[k], total[col])
		}
	}

}

func TestCostModelBillFollowsThePerOperationCounts(t *testing.T) {
	doc := costDoc(t)
	ops := mdTable(t, doc, "### Per operation")
	var api, rru, wru, sm, kms [2]float64
	for _, r := range ops {
		if len(r) != 7 {
			t.Fatalf("per-operation row %q: %d cells, want 7", r, len(r))
		}
		n := num(t, r[1])
		a := num(t, r[2])
		api[0] += n * a
		api[1] += n * a
		for _, c := range []struct {
			cell string
			into *[2]float64
		}{{r[3], &rru}, {r[4], &wru}, {r[5], &sm}} {
			se, sl := pair(t, c.cell)
			c.into[0] += n * se
			c.into[1] += n * sl
		}
		kms[1] += n * num(t, r[6])
	}
	kms[1] += 13 * 12 * 30 * 24 // GenerateDataKey: 13 writing containers, one per 5 minutes

	lines := map[string][]string{}
	for _, r := range mdTable(t, doc, "### The bill") {
		lines[r[0]] = r
	}
	line := func(prefix string) []string {
		for name, r := range lines {
			if strings.HasPrefix(name, prefix) {
				return r
			}
		}
		t.Fatalf("the bill has no line %q", prefix)
		return nil
	}
	for _, c := range []struct {
		line string
		want [2]float64
	}{
		{"API Gateway HTTP API requests", api},
		{"Lambda requests", [2]float64{api[0] + 120 + 40_000, api[1] + 120 + 40_000}},
		{"DynamoDB read units", rru},
		{"DynamoDB write units", wru},
		{"Secrets Manager API calls", sm},
		{"KMS requests", kms},
	} {
		r := line(c.line)
		for k, col := range []int{2, 4} {
			if got := num(t, r[col]); !near(got, c.want[k], 0.5) {
				t.Errorf("%s, %s mode: the bill says %s, the per-operation table gives %.0f", c.line, []string{"secrets", "sealed"}[k], r[col], c.want[k])
			}
		}
	}
}
