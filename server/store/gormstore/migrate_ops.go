package gormstore

import "gorm.io/gorm"

// migrateOps adds what operators manage: the admin and disabled flags of
// users, and invite codes (stored as SHA-256 hashes) for registration by
// invite.
func migrateOps(tx *gorm.DB, d Dialect) error {
	ts := d.Timestamp()
	return execAll(tx,
		`ALTER TABLE users ADD COLUMN is_admin BOOLEAN NOT NULL DEFAULT FALSE`,
		`ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE`,
		`CREATE TABLE invites (
			id `+d.AutoID()+`,
			code_hash TEXT NOT NULL,
			uses_left BIGINT NOT NULL,
			expires_at `+ts+`,
			created_at `+ts+` NOT NULL
		)`,
		`CREATE UNIQUE INDEX invites_code_hash_key ON invites (code_hash)`,
	)
}
