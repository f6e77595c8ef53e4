// Package migrations holds the numbered SQL files that build the schema, embedded in the binary
// and applied by goose (internal/store.Migrate) at start and by `tenantry migrate`, and the
// universe catalog (universe/*.json) that Migrate loads after them.
package migrations

import "embed"

// FS holds every migration (goose reads the *.sql at its root in numeric order) and the
// universe catalog.
//
//go:embed *.sql universe/*.json
var FS embed.FS
