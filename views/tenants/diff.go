package tenants

import (
	"bytes"
	"encoding/json"
	"strings"
)

// PrettyJSON is v as the Console shows and edits a config: indented by two spaces, keys sorted,
// without HTML escaping (templ escapes on output). An empty or nil object is "{}".
func PrettyJSON(v any) string {
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		return "{}"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// Line kinds of a side-by-side diff.
const (
	LineSame    = "same"
	LineRemoved = "removed" // only on the left: the template has it, the tenant does not
	LineAdded   = "added"   // only on the right: the tenant has it, the template does not
	LineChanged = "changed" // paired with a different line on the other side
	LineEmpty   = "empty"   // no line on this side
)

// DiffCell is one side of a diff row: a line of pretty-printed JSON and its number (0 when empty).
type DiffCell struct {
	Num  int
	Text string
	Kind string
}

// DiffRow is one row of a side-by-side diff: the template's line on the left, the tenant's on
// the right.
type DiffRow struct {
	Left, Right DiffCell
}

// Diff is a side-by-side comparison of two pretty-printed configs.
type Diff struct {
	Rows []DiffRow
}

// Changed reports whether the two sides differ at all.
func (d Diff) Changed() bool {
	for _, r := range d.Rows {
		if r.Left.Kind != LineSame {
			return true
		}
	}
	return false
}

// maxDiffCells bounds the line-by-line comparison (rows × columns of its table) of the part that
// differs; beyond it that part is shown as changed whole rather than aligned line by line.
const maxDiffCells = 4_000_000

// DiffJSON compares left and right (pretty-printed) line by line: lines both share (a longest
// common subsequence) are aligned; between them, removed lines on the left are paired with added
// lines on the right as changed lines, and what is left over stands alone.
func DiffJSON(left, right any) Diff {
	a := strings.Split(PrettyJSON(left), "\n")
	b := strings.Split(PrettyJSON(right), "\n")
	ops := diffLines(a, b)
	var d Diff
	ai, bi := 0, 0
	for i := 0; i < len(ops); {
		if ops[i] == opSame {
			d.Rows = append(d.Rows, DiffRow{Left: DiffCell{ai + 1, a[ai], LineSame}, Right: DiffCell{bi + 1, b[bi], LineSame}})
			ai, bi, i = ai+1, bi+1, i+1
			continue
		}
		// A run of removals and additions between two common lines.
		var del, ins []int
		for ; i < len(ops) && ops[i] != opSame; i++ {
			if ops[i] == opDel {
				del, ai = append(del, ai), ai+1
			} else {
				ins, bi = append(ins, bi), bi+1
			}
		}
		for k := 0; k < max(len(del), len(ins)); k++ {
			row := DiffRow{Left: DiffCell{Kind: LineEmpty}, Right: DiffCell{Kind: LineEmpty}}
			switch {
			case k < len(del) && k < len(ins):
				row.Left = DiffCell{del[k] + 1, a[del[k]], LineChanged}
				row.Right = DiffCell{ins[k] + 1, b[ins[k]], LineChanged}
			case k < len(del):
				row.Left = DiffCell{del[k] + 1, a[del[k]], LineRemoved}
			default:
				row.Right = DiffCell{ins[k] + 1, b[ins[k]], LineAdded}
			}
			d.Rows = append(d.Rows, row)
		}
	}
	return d
}

type diffOp int8

const (
	opSame diffOp = iota
	opDel
	opIns
)

// diffLines is the edit script from a to b: common prefix and suffix first, then a longest
// common subsequence of the middle.
func diffLines(a, b []string) []diffOp {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ops := make([]diffOp, 0, len(a)+len(b))
	for range pre {
		ops = append(ops, opSame)
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	if (len(ma)+1)*(len(mb)+1) > maxDiffCells {
		for range ma {
			ops = append(ops, opDel)
		}
		for range mb {
			ops = append(ops, opIns)
		}
	} else {
		ops = append(ops, lcsOps(ma, mb)...)
	}
	for range suf {
		ops = append(ops, opSame)
	}
	return ops
}

// lcsOps aligns a and b on a longest common subsequence (dynamic programming over suffixes).
func lcsOps(a, b []string) []diffOp {
	n, m := len(a), len(b)
	w := m + 1
	l := make([]int32, (n+1)*w) // l[i*w+j]: LCS length of a[i:] and b[j:]
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				l[i*w+j] = l[(i+1)*w+j+1] + 1
			} else {
				l[i*w+j] = max(l[(i+1)*w+j], l[i*w+j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			ops = append(ops, opSame)
			i, j = i+1, j+1
		case l[(i+1)*w+j] >= l[i*w+j+1]:
			ops = append(ops, opDel)
			i++
		default:
			ops = append(ops, opIns)
			j++
		}
	}
	for ; i < n; i++ {
		ops = append(ops, opDel)
	}
	for ; j < m; j++ {
		ops = append(ops, opIns)
	}
	return ops
}

// Kinds of a changed path.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// ConfigChangeView is one path where the tenant's config differs from the template's, with both
// values as JSON.
type ConfigChangeView struct {
	Path   string // dotted, below config
	Kind   string // added, removed, changed
	Before string
	After  string
}

// CompactJSON is v as one line of JSON, for a changed path's values.
func CompactJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return strings.TrimSuffix(buf.String(), "\n")
}
