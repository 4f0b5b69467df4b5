package gormstore

import "gorm.io/gorm"

// migrateCluster adds what the nodes of a cluster share beyond the data:
// the sealed probe value that proves they share secret_key, and the leases
// of running AI replies, which make the reply limits cluster-wide and let
// a surviving node end the replies of a node that died, and the windows of
// the login rate limits, counted cluster-wide.
func migrateCluster(tx *gorm.DB, d Dialect) error {
	ts := d.Timestamp()
	return execAll(tx,
		`CREATE TABLE cluster_probe (
			id INTEGER PRIMARY KEY,
			sealed `+d.Blob()+` NOT NULL,
			key_version TEXT NOT NULL,
			node_id TEXT NOT NULL,
			created_at `+ts+` NOT NULL
		)`,
		`CREATE TABLE ai_reply_leases (
			stream_id TEXT PRIMARY KEY,
			node_id TEXT NOT NULL,
			user_id BIGINT NOT NULL,
			room_id BIGINT NOT NULL,
			started_at `+ts+` NOT NULL,
			expires_at `+ts+` NOT NULL,
			finished_at `+ts+`
		)`,
		`CREATE INDEX ai_reply_leases_user ON ai_reply_leases (user_id, started_at)`,
		`CREATE INDEX ai_reply_leases_room ON ai_reply_leases (room_id) WHERE finished_at IS NULL`,
		`CREATE TABLE rate_windows (
			scope TEXT NOT NULL,
			key TEXT NOT NULL,
			window_start `+ts+` NOT NULL,
			hits BIGINT NOT NULL,
			PRIMARY KEY (scope, key)
		)`,
	)
}
