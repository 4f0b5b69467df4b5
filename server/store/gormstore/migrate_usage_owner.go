package gormstore

import "gorm.io/gorm"

// migrateUsageKeyOwner records whose stored key paid for each AI reply, so
// usage is booked to the key's owner as well as to the user who asked
// (a role's owner sees what others spent on their keys).
func migrateUsageKeyOwner(tx *gorm.DB, _ Dialect) error {
	return execAll(tx,
		`ALTER TABLE ai_usage ADD COLUMN key_owner_id BIGINT`,
		`CREATE INDEX ai_usage_key_owner_day_idx ON ai_usage (key_owner_id, day)`,
	)
}
