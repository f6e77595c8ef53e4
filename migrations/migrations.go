// Package migrations holds the numbered SQL files that build the schema, embedded in the binary
// and applied by goose (internal/store.Migrate) at start and by `tenantry migrate`.
package migrations

import "embed"

// FS holds every migration; goose reads them in numeric order.
//
//go:embed *.sql
var FS embed.FS
