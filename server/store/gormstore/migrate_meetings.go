package gormstore

import "gorm.io/gorm"

// migrateMeetings adds meetings of AI roles (issue 18): the request, the
// engine's durable state and the lease of the vcd that runs it. At most one
// meeting per room is running (a partial unique index).
func migrateMeetings(tx *gorm.DB, d Dialect) error {
	ts := d.Timestamp()
	return execAll(tx,
		`CREATE TABLE meetings (
			id `+d.AutoID()+`,
			room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
			topic TEXT NOT NULL,
			role_ids TEXT NOT NULL,
			mode TEXT NOT NULL,
			rounds INTEGER NOT NULL,
			chair_id BIGINT NOT NULL,
			token_budget BIGINT NOT NULL DEFAULT 0,
			created_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			status TEXT NOT NULL,
			turns INTEGER NOT NULL DEFAULT 0,
			cursor_pos INTEGER NOT NULL DEFAULT 0,
			speaker BIGINT,
			next_role_id BIGINT,
			floor_role_id BIGINT,
			fail_streak INTEGER NOT NULL DEFAULT 0,
			tokens_used BIGINT NOT NULL DEFAULT 0,
			start_seq BIGINT NOT NULL DEFAULT 0,
			end_seq BIGINT NOT NULL DEFAULT 0,
			minutes TEXT NOT NULL DEFAULT '',
			minutes_message_id BIGINT NOT NULL DEFAULT 0,
			detail TEXT NOT NULL DEFAULT '',
			stop_requested BOOLEAN NOT NULL DEFAULT FALSE,
			owner TEXT NOT NULL DEFAULT '',
			lease_until `+ts+` NOT NULL,
			created_at `+ts+` NOT NULL,
			updated_at `+ts+` NOT NULL,
			ended_at `+ts+`
		)`,
		`CREATE INDEX meetings_room_idx ON meetings (room_id, id)`,
		`CREATE UNIQUE INDEX meetings_room_running_key ON meetings (room_id) WHERE status = 'running'`,
		`CREATE INDEX meetings_running_idx ON meetings (status, lease_until)`,
	)
}
