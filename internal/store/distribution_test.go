package store_test

// The schema must stay distributable by workspace_id (Citus, see docs/SCALING.md): this test
// reads the catalog of a freshly migrated database and checks the rules a distributed
// PostgreSQL needs, so a migration that breaks one fails here rather than on the day the data
// outgrows one server. The classification of every table (distributed, reference, local) lives
// in one place, the table between the markers in docs/SCALING.md; the test parses it, so the
// document and the check cannot drift apart.

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// scalingDoc is docs/SCALING.md, relative to this package's directory (where go test runs).
var scalingDoc = filepath.Join("..", "..", "docs", "SCALING.md")

const (
	tablesBegin = "<!-- distribution:begin -->"
	tablesEnd   = "<!-- distribution:end -->"
)

// Kinds of table on Citus.
const (
	kindDistributed = "distributed" // sharded by workspace_id, co-located with every other
	kindReference   = "reference"   // one shard, copied to every node
	kindLocal       = "local"       // stays on the coordinator only
)

// docTable is one row of the classification table in docs/SCALING.md.
type docTable struct {
	kind, why string
	line      int
}

// readDistributionDoc parses the rows between the markers: | `name` | kind | why |.
func readDistributionDoc(t *testing.T, path string) map[string]docTable {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("the table classification lives in %s: %v", path, err)
	}
	defer f.Close()
	out := map[string]docTable{}
	in, seen := false, false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == tablesBegin:
			in, seen = true, true
			continue
		case line == tablesEnd:
			in = false
			continue
		case !in || !strings.HasPrefix(line, "|"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) < 3 || !strings.HasPrefix(cells[0], "`") {
			continue // the header and its separator
		}
		name := strings.Trim(cells[0], "`")
		kind := strings.ToLower(cells[1])
		if kind != kindDistributed && kind != kindReference && kind != kindLocal {
			t.Errorf("%s:%d: table %s has kind %q: want distributed, reference or local", path, n, name, cells[1])
		}
		if cells[2] == "" {
			t.Errorf("%s:%d: table %s: say why it is %s", path, n, name, kind)
		}
		if prev, dup := out[name]; dup {
			t.Errorf("%s:%d: table %s listed twice (also line %d)", path, n, name, prev.line)
		}
		out[name] = docTable{kind: kind, why: cells[2], line: n}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !seen || len(out) == 0 {
		t.Fatalf("%s: no classification table between %q and %q", path, tablesBegin, tablesEnd)
	}
	return out
}

// catalogTable is one table of the public schema as the catalog describes it.
type catalogTable struct {
	Name        string `db:"name"`
	Partition   bool   `db:"partition"`
	Parent      string `db:"parent"`
	HasWS       bool   `db:"has_ws"`
	WSNotNull   bool   `db:"ws_not_null"`
	HasPrimary  bool   `db:"has_primary"`
	Partitioned bool   `db:"partitioned"`
}

func catalogTables(t *testing.T, q sqlx.QueryerContext) []catalogTable {
	t.Helper()
	var out []catalogTable
	if err := sqlx.SelectContext(context.Background(), q, &out, `
		SELECT c.relname AS name, c.relispartition AS partition, c.relkind = 'p' AS partitioned,
		       coalesce((SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
		                  WHERE i.inhrelid = c.oid), '') AS parent,
		       a.attnum IS NOT NULL AS has_ws, coalesce(a.attnotnull, false) AS ws_not_null,
		       EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND x.indisprimary) AS has_primary
		FROM pg_class c
		LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
		ORDER BY c.relname`); err != nil {
		t.Fatal(err)
	}
	return out
}

// uniqueKey is a primary key, unique constraint, unique index (partial or on expressions) or
// exclusion constraint of a table that has workspace_id.
type uniqueKey struct {
	Table    string `db:"tbl"`
	Index    string `db:"idx"`
	Kind     string `db:"kind"`
	FirstCol string `db:"first_col"` // '' when the first key is an expression
	Def      string `db:"def"`
}

func uniqueKeys(t *testing.T, q sqlx.QueryerContext) []uniqueKey {
	t.Helper()
	var out []uniqueKey
	if err := sqlx.SelectContext(context.Background(), q, &out, `
		SELECT c.relname AS tbl, i.relname AS idx,
		       CASE WHEN x.indisprimary THEN 'primary key'
		            WHEN x.indisexclusion THEN 'exclusion constraint'
		            WHEN con.oid IS NOT NULL THEN 'unique constraint'
		            ELSE 'unique index' END AS kind,
		       coalesce(a.attname, '') AS first_col, pg_get_indexdef(x.indexrelid) AS def
		FROM pg_index x
		JOIN pg_class c ON c.oid = x.indrelid
		JOIN pg_class i ON i.oid = x.indexrelid
		LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = c.oid
		LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0] AND x.indkey[0] <> 0
		WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
		  AND (x.indisunique OR x.indisprimary OR x.indisexclusion)
		  AND EXISTS (SELECT 1 FROM pg_attribute w WHERE w.attrelid = c.oid AND w.attname = 'workspace_id' AND NOT w.attisdropped)
		ORDER BY 1, 2`); err != nil {
		t.Fatal(err)
	}
	return out
}

// foreignKey is a foreign key declared in the public schema (not the copies PostgreSQL makes on
// partitions), with where workspace_id sits on either side (0: no such column).
type foreignKey struct {
	Name    string        `db:"name"`
	From    string        `db:"src"`
	To      string        `db:"dst"`
	Cols    pq.Int64Array `db:"cols"`
	RefCols pq.Int64Array `db:"ref_cols"`
	FromWS  int64         `db:"src_ws"`
	ToWS    int64         `db:"dst_ws"`
	Def     string        `db:"def"`
}

func foreignKeys(t *testing.T, q sqlx.QueryerContext) []foreignKey {
	t.Helper()
	var out []foreignKey
	if err := sqlx.SelectContext(context.Background(), q, &out, `
		SELECT con.conname AS name, s.relname AS src, d.relname AS dst,
		       con.conkey::int8[] AS cols, con.confkey::int8[] AS ref_cols,
		       coalesce((SELECT attnum FROM pg_attribute WHERE attrelid = s.oid AND attname = 'workspace_id' AND NOT attisdropped), 0) AS src_ws,
		       coalesce((SELECT attnum FROM pg_attribute WHERE attrelid = d.oid AND attname = 'workspace_id' AND NOT attisdropped), 0) AS dst_ws,
		       pg_get_constraintdef(con.oid) AS def
		FROM pg_constraint con
		JOIN pg_class s ON s.oid = con.conrelid
		JOIN pg_class d ON d.oid = con.confrelid
		WHERE con.contype = 'f' AND s.relnamespace = 'public'::regnamespace AND con.conparentid = 0
		ORDER BY 2, 1`); err != nil {
		t.Fatal(err)
	}
	return out
}

// distributionProblems applies every rule to a catalog and a classification and says, for each
// breach, what is wrong and what to do about it.
func distributionProblems(tables []catalogTable, keys []uniqueKey, fks []foreignKey, doc map[string]docTable) []string {
	var out []string
	byName := map[string]catalogTable{}
	for _, tb := range tables {
		byName[tb.Name] = tb
	}
	kindOf := func(name string) string {
		if tb, ok := byName[name]; ok && tb.Partition {
			name = tb.Parent // a partition goes where its parent goes
		}
		return doc[name].kind
	}
	for _, tb := range tables {
		if tb.Partition {
			if !tb.HasWS && byName[tb.Parent].HasWS {
				out = append(out, fmt.Sprintf("partition %s of %s has no workspace_id", tb.Name, tb.Parent))
			}
			continue // classified with its parent; its keys are checked below like any table's
		}
		d, listed := doc[tb.Name]
		switch {
		case !listed && tb.HasWS:
			out = append(out, fmt.Sprintf("table %s is not classified: add it to the table in docs/SCALING.md as distributed "+
				"(it has workspace_id, so Citus shards it by workspace with the others)", tb.Name))
		case !listed:
			out = append(out, fmt.Sprintf("table %s has no workspace_id column and is not classified. If it holds workspace or tenant data, "+
				"add workspace_id (NOT NULL, first in its primary key and in every unique key and index, and in every foreign key "+
				"to another workspace table) so that Citus can distribute it by workspace; if it is global, list it in docs/SCALING.md "+
				"as reference (small, copied to every node: catalogs, workspaces, managers) or local (coordinator only, like goose's "+
				"version table), with the reason", tb.Name))
		case d.kind == kindDistributed && !tb.HasWS:
			out = append(out, fmt.Sprintf("table %s is listed as distributed but has no workspace_id column to distribute by", tb.Name))
		}
		if tb.HasWS {
			if !tb.WSNotNull {
				out = append(out, fmt.Sprintf("table %s: workspace_id must be NOT NULL (Citus refuses NULL in the distribution column)", tb.Name))
			}
			if !tb.HasPrimary && !tb.Partitioned {
				out = append(out, fmt.Sprintf("table %s has workspace_id but no primary key: give it one led by workspace_id", tb.Name))
			}
		}
	}
	for name, d := range doc {
		if _, ok := byName[name]; !ok {
			out = append(out, fmt.Sprintf("docs/SCALING.md:%d lists table %s, which the migrations do not create: remove the row", d.line, name))
		}
	}
	for _, k := range keys {
		if k.FirstCol != "workspace_id" {
			first := k.FirstCol
			if first == "" {
				first = "an expression"
			}
			out = append(out, fmt.Sprintf("%s %s on %s starts with %s, not workspace_id: every primary key, unique constraint and unique "+
				"index of a workspace table must lead with workspace_id (a uniqueness that spans workspaces cannot be enforced on "+
				"a sharded table; the scoped lookups use the same prefix). Definition: %s", k.Kind, k.Index, k.Table, first, k.Def))
		}
	}
	for _, fk := range fks {
		from, to := kindOf(fk.From), kindOf(fk.To)
		if from == "" {
			from = "unclassified"
		}
		switch {
		case fk.FromWS != 0 && fk.ToWS != 0:
			// Co-location: the referencing row's workspace_id must be the referenced row's.
			matched := false
			for i := range fk.Cols {
				if i < len(fk.RefCols) && fk.Cols[i] == fk.FromWS && fk.RefCols[i] == fk.ToWS {
					matched = true
				}
			}
			if !matched {
				out = append(out, fmt.Sprintf("foreign key %s from %s to %s does not map workspace_id to workspace_id: "+
					"between workspace tables a key must include it on both sides, so that both rows live on one shard "+
					"(and no row can point into another workspace). Definition: %s", fk.Name, fk.From, fk.To, fk.Def))
			}
		case to == kindDistributed && from != kindDistributed:
			out = append(out, fmt.Sprintf("foreign key %s goes from the %s table %s to the distributed table %s: Citus cannot "+
				"enforce that; reverse it or distribute %s", fk.Name, from, fk.From, fk.To, fk.From))
		case from == kindLocal && to == kindReference, from == kindReference && to == kindLocal:
			out = append(out, fmt.Sprintf("foreign key %s joins the local table %s with %s: keep local tables unreferenced", fk.Name, fk.From, fk.To))
		}
	}
	slices.Sort(out)
	return out
}

// TestSchemaIsDistributableByWorkspace checks the migrated schema against the rules above.
func TestSchemaIsDistributableByWorkspace(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	q := db.SQL()
	doc := readDistributionDoc(t, scalingDoc)
	tables := catalogTables(t, q)
	keys := uniqueKeys(t, q)
	fks := foreignKeys(t, q)

	// The check must see what it claims to: partitions, partial and expression unique indexes,
	// and composite foreign keys are all present in this schema.
	var partitions, partial, expression int
	for _, tb := range tables {
		if tb.Partition {
			partitions++
		}
	}
	for _, k := range keys {
		if strings.Contains(k.Def, " WHERE ") {
			partial++
		}
		if strings.Contains(k.Def, "COALESCE(") || strings.Contains(k.Def, "coalesce(") {
			expression++
		}
	}
	if partitions == 0 || partial == 0 || expression == 0 || len(fks) < 5 {
		t.Fatalf("catalog read looks wrong: %d partitions, %d partial and %d expression unique indexes, %d foreign keys",
			partitions, partial, expression, len(fks))
	}

	for _, p := range distributionProblems(tables, keys, fks, doc) {
		t.Error(p)
	}
}

// TestDistributionCheckCatchesBreaches proves the check fails for each kind of breach, on a
// database where one of each was added by hand.
func TestDistributionCheckCatchesBreaches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	for _, stmt := range []string{
		// A new global table that nobody classified.
		`CREATE TABLE new_global (id uuid PRIMARY KEY, name text)`,
		// A workspace table whose unique index does not lead with workspace_id (partial, too).
		`CREATE TABLE bad_keys (workspace_id uuid NOT NULL, id uuid NOT NULL, code text, PRIMARY KEY (workspace_id, id))`,
		`CREATE UNIQUE INDEX bad_keys_code ON bad_keys (code) WHERE code IS NOT NULL`,
		// An expression first.
		`CREATE UNIQUE INDEX bad_keys_lower ON bad_keys (lower(code), workspace_id)`,
		// A primary key that does not lead with workspace_id, and a foreign key that skips it.
		`CREATE TABLE bad_fk (workspace_id uuid, id uuid PRIMARY KEY, tenant_id uuid)`,
		`ALTER TABLE bad_fk ADD CONSTRAINT bad_fk_tenant FOREIGN KEY (tenant_id, workspace_id) REFERENCES tenants (workspace_id, id)`,
		// A reference table pointing at a distributed one.
		`ALTER TABLE new_global ADD COLUMN tenant_ws uuid, ADD COLUMN tenant_id uuid,
		   ADD CONSTRAINT new_global_tenant FOREIGN KEY (tenant_ws, tenant_id) REFERENCES tenants (workspace_id, id)`,
	} {
		if _, err := db.SQL().ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	doc := readDistributionDoc(t, scalingDoc)
	doc["new_global_gone"] = docTable{kind: kindReference, why: "stale row", line: 999}
	got := strings.Join(distributionProblems(catalogTables(t, db.SQL()), uniqueKeys(t, db.SQL()), foreignKeys(t, db.SQL()), doc), "\n")
	for _, want := range []string{
		"table new_global has no workspace_id column and is not classified",
		"table bad_keys is not classified",
		"unique index bad_keys_code on bad_keys starts with code",
		"unique index bad_keys_lower on bad_keys starts with an expression",
		"primary key bad_fk_pkey on bad_fk starts with id",
		"table bad_fk: workspace_id must be NOT NULL",
		"foreign key bad_fk_tenant from bad_fk to tenants does not map workspace_id to workspace_id",
		"foreign key new_global_tenant goes from the unclassified table new_global to the distributed table tenants",
		"lists table new_global_gone, which the migrations do not create",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems do not include %q; got:\n%s", want, got)
		}
	}
	// The rows that are fine raise nothing: every problem names one of the added objects.
	for _, line := range strings.Split(got, "\n") {
		if !strings.Contains(line, "new_global") && !strings.Contains(line, "bad_") {
			t.Errorf("unexpected problem with the migrated schema: %s", line)
		}
	}
}
