package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"

	"github.com/google/uuid"

	"tenantry/internal/tenancy"
	"tenantry/migrations"
)

// The universe: public apps, connectors and actions shipped with Tenantry as data files
// (migrations/universe/*.json). Every scope with a workspace reads them; nothing running as the
// app role can change them — the table has no write grant and no write policy for it, so the
// database refuses, whatever a handler does. Only loadUniverse, part of Migrate and running as
// the owner, writes them.

// universeNamespace makes universe ids stable across machines: an id is a UUIDv5 of kind/key.
var universeNamespace = uuid.MustParse("3f1b7c52-6d1e-4d0e-9f0a-8a3c2b1d9e70")

func universeID(kind, key string) uuid.UUID {
	return uuid.NewSHA1(universeNamespace, []byte(kind+"/"+key))
}

type catalogFile struct {
	Elements []struct {
		Kind        string         `json:"kind"`
		Key         string         `json:"key"`
		App         string         `json:"app"`
		Type        string         `json:"type"`
		Name        string         `json:"name"`
		Description string         `json:"description"`
		Config      map[string]any `json:"config"`
	} `json:"elements"`
}

// loadUniverse upserts the catalog, by kind and key, in one transaction on conn's connection.
// Elements no longer in the catalog stay (workspace elements may point at them).
func loadUniverse(ctx context.Context, conn *sql.Conn) error {
	names, err := fs.Glob(migrations.FS, "universe/*.json")
	if err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// One process at a time, and never during another's migration (the same key as Migrate's
	// session lock; transaction-level, so a transaction-mode pooler releases it with the commit).
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		return err
	}
	n := 0
	for _, name := range names {
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return err
		}
		var cat catalogFile
		if err := json.Unmarshal(b, &cat); err != nil {
			return fmt.Errorf("universe %s: %w", name, err)
		}
		for _, e := range cat.Elements {
			if e.Kind == "" || e.Key == "" || e.Name == "" {
				return fmt.Errorf("universe %s: an element lacks kind, key or name", name)
			}
			cfg, err := json.Marshal(e.Config)
			if err != nil || e.Config == nil {
				cfg = []byte("{}")
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO universe_elements (id, kind, key, name, description, app_key, type, config)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (kind, key) DO UPDATE SET name = excluded.name, description = excluded.description,
					app_key = excluded.app_key, type = excluded.type, config = excluded.config, updated_at = now()
				WHERE (universe_elements.name, universe_elements.description, universe_elements.app_key, universe_elements.type, universe_elements.config)
					IS DISTINCT FROM (excluded.name, excluded.description, excluded.app_key, excluded.type, excluded.config)`,
				universeID(e.Kind, e.Key), e.Kind, e.Key, e.Name, e.Description, e.App, e.Type, string(cfg)); err != nil {
				return fmt.Errorf("universe %s %s/%s: %w", name, e.Kind, e.Key, err)
			}
			n++
		}
	}
	return tx.Commit()
}

const universeColumns = `id, kind, key, name, description, app_key, type, config`

func scanUniverse(row interface{ Scan(...any) error }) (*tenancy.UniverseElement, error) {
	var u tenancy.UniverseElement
	var cfg []byte
	if err := row.Scan(&u.ID, &u.Kind, &u.Key, &u.Name, &u.Description, &u.AppKey, &u.Type, &cfg); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(cfg, &u.Config); err != nil {
		return nil, fmt.Errorf("universe config: %w", err)
	}
	return &u, nil
}

// UniverseFilter selects universe elements.
type UniverseFilter struct {
	Kind   tenancy.ElementKind // "" = every kind
	App    string              // elements of one app
	Search string              // substring of key, name or description
	Limit  int                 // 1..1000, default 100
	Cursor string
}

// UniversePage is one page of universe elements, ordered by kind and key.
type UniversePage struct {
	Items  []*tenancy.UniverseElement
	Cursor string
}

type universeCursor struct {
	Kind string `json:"k"`
	Key  string `json:"y"`
}

// ListUniverse lists universe elements.
func (tx *Tx) ListUniverse(ctx context.Context, f UniverseFilter) (*UniversePage, error) {
	limit := clampLimit(f.Limit)
	where, args := []string{"true"}, []any{}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.Kind != "" {
		where = append(where, "kind = "+arg(string(f.Kind)))
	}
	if f.App != "" {
		where = append(where, "(app_key = "+arg(f.App)+" OR (kind = 'app' AND key = "+arg(f.App)+"))")
	}
	if s := strings.TrimSpace(f.Search); s != "" {
		p := arg("%" + escapeLike(strings.ToLower(s)) + "%")
		where = append(where, "(lower(key) LIKE "+p+" OR lower(name) LIKE "+p+" OR lower(description) LIKE "+p+")")
	}
	var cur universeCursor
	has, err := ParseCursor(f.Cursor, &cur)
	if err != nil {
		return nil, err
	}
	if has {
		where = append(where, "(kind, key) > ("+arg(cur.Kind)+", "+arg(cur.Key)+")")
	}
	rows, err := tx.QueryxContext(ctx, `SELECT `+universeColumns+` FROM universe_elements WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(" ORDER BY kind, key LIMIT %d", limit+1), args...)
	if err != nil {
		return nil, fmt.Errorf("list universe: %w", err)
	}
	defer rows.Close()
	page := &UniversePage{}
	for rows.Next() {
		u, err := scanUniverse(rows)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		last := page.Items[limit-1]
		page.Cursor = MakeCursor(universeCursor{Kind: string(last.Kind), Key: last.Key})
	}
	return page, nil
}

// UniverseElement finds a universe element of kind by id or key.
func (tx *Tx) UniverseElement(ctx context.Context, kind tenancy.ElementKind, selector string) (*tenancy.UniverseElement, error) {
	var row interface{ Scan(...any) error }
	if id, err := uuid.Parse(selector); err == nil {
		row = tx.QueryRowxContext(ctx, `SELECT `+universeColumns+` FROM universe_elements WHERE id = $1 AND kind = $2`, id, string(kind))
	} else {
		row = tx.QueryRowxContext(ctx, `SELECT `+universeColumns+` FROM universe_elements WHERE key = $1 AND kind = $2`, selector, string(kind))
	}
	u, err := scanUniverse(row)
	if notFound(err) {
		return nil, tenancy.ErrNotFound
	}
	return u, err
}

// clampLimit applies the default (100) and maximum (1000) page sizes.
func clampLimit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// escapeLike escapes LIKE's metacharacters so a search matches them literally.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
