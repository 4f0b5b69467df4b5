package gormstore

import "gorm.io/gorm"

// migrateAI creates the tables of AI roles: seats of roles in rooms,
// encrypted provider keys and token usage.
func migrateAI(tx *gorm.DB, d Dialect) error {
	ts := d.Timestamp()
	return execAll(tx,
		`CREATE TABLE room_roles (
			room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
			role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
			seated_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			seated_at `+ts+` NOT NULL,
			PRIMARY KEY (room_id, role_id)
		)`,
		`CREATE INDEX room_roles_role_idx ON room_roles (role_id)`,
		`CREATE TABLE api_keys (
			id `+d.AutoID()+`,
			user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			provider TEXT NOT NULL,
			base_url TEXT NOT NULL DEFAULT '',
			ciphertext `+d.Blob()+` NOT NULL,
			key_version TEXT NOT NULL,
			last_four TEXT NOT NULL,
			created_at `+ts+` NOT NULL
		)`,
		`CREATE UNIQUE INDEX api_keys_user_provider_key ON api_keys (user_id, provider)`,
		`CREATE TABLE ai_usage (
			id `+d.AutoID()+`,
			user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			role_id BIGINT,
			room_id BIGINT,
			provider TEXT NOT NULL,
			model TEXT NOT NULL,
			input_tokens BIGINT NOT NULL,
			output_tokens BIGINT NOT NULL,
			day TEXT NOT NULL,
			created_at `+ts+` NOT NULL
		)`,
		`CREATE INDEX ai_usage_user_day_idx ON ai_usage (user_id, day)`,
	)
}
