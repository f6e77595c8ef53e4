package store

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Lists of integrations, elements and connections page by keyset on (created_at, id), oldest
// first, with an opaque cursor. listQuery collects a list's conditions and arguments; the
// workspace condition comes first so every list uses an index that starts with workspace_id.

type listQuery struct {
	conds []string
	args  []any
	limit int
}

type listCursor struct {
	At time.Time `json:"t"`
	ID uuid.UUID `json:"i"`
}

func newListQuery(workspaceID uuid.UUID, limit int) *listQuery {
	q := &listQuery{limit: clampLimit(limit)}
	q.where("workspace_id = " + q.arg(workspaceID))
	return q
}

func (q *listQuery) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

func (q *listQuery) where(cond string) { q.conds = append(q.conds, cond) }

// after adds the cursor's condition; alias prefixes the columns ("e." for a join).
func (q *listQuery) after(cursor, alias string) error {
	var c listCursor
	has, err := ParseCursor(cursor, &c)
	if err != nil || !has {
		return err
	}
	q.where(fmt.Sprintf("(%screated_at, %sid) > (%s, %s)", alias, alias, q.arg(c.At), q.arg(c.ID)))
	return nil
}

// sql returns the WHERE body with ORDER BY and LIMIT (one extra row tells whether a next page exists).
func (q *listQuery) sql(alias string) string {
	return strings.Join(q.conds, " AND ") + fmt.Sprintf(" ORDER BY %screated_at, %sid LIMIT %d", alias, alias, q.limit+1)
}

// pageOf trims the extra row and makes the next page's cursor ("" on the last page).
func pageOf[T any](items []T, limit int, key func(T) (time.Time, uuid.UUID)) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	at, id := key(items[limit-1])
	return items, MakeCursor(listCursor{At: at, ID: id})
}
