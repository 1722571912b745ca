// Package migrations embeds the SQL migrations of aibud for bun's migrate.
// Files are named <timestamp>_<name>.(tx.)up.sql / .down.sql; migrations never
// import Go models, so old migrations keep meaning what they meant.
package migrations

import "embed"

// Files holds every migration file.
//
//go:embed *.sql
var Files embed.FS
