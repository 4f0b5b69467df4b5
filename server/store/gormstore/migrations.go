package gormstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Dialect names the database kind, so that a migration can pick the few
// column types that differ.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// AutoID is the column definition of an auto-increment int64 primary key.
func (d Dialect) AutoID() string {
	if d == Postgres {
		return "BIGSERIAL PRIMARY KEY"
	}
	return "INTEGER PRIMARY KEY AUTOINCREMENT"
}

// Timestamp is the column type of a point in time (stored in UTC).
func (d Dialect) Timestamp() string {
	if d == Postgres {
		return "TIMESTAMPTZ"
	}
	return "TIMESTAMP"
}

// Blob is the column type of raw bytes.
func (d Dialect) Blob() string {
	if d == Postgres {
		return "BYTEA"
	}
	return "BLOB"
}

// Migration is one step of the schema. Up runs inside a transaction; it must
// behave the same on every dialect (use the Dialect helpers for column types).
type Migration struct {
	Version int
	Name    string
	Up      func(tx *gorm.DB, d Dialect) error
}

// migrations is the ordered list of every schema step. To add one, write its
// Up function in your own file (migrate_<topic>.go) and append ONE line here
// with the next version number. Never edit or renumber an applied migration.
func migrations() []Migration {
	return []Migration{
		{Version: 1, Name: "core schema: users, roles, rooms, members, messages", Up: migrateCore},
		{Version: 2, Name: "ai: room roles, encrypted api keys, usage", Up: migrateAI},
		{Version: 3, Name: "ai: usage booked to the owner of the key that paid", Up: migrateUsageKeyOwner},
		{Version: 4, Name: "ops: admin and disabled users, invites", Up: migrateOps},
		{Version: 5, Name: "cluster: secret probe, leases of running AI replies", Up: migrateCluster},
		{Version: 6, Name: "meetings of AI roles: request, engine state, lease", Up: migrateMeetings},
	}
}

// LatestSchemaVersion is the schema version this binary migrates to. A
// database with a higher version was written by a newer vcd.
func LatestSchemaVersion() int { return len(migrations()) }

// Migrate applies every migration not yet recorded in schema_migrations, in
// order, each in its own transaction, and returns the resulting version.
// Concurrent callers on PostgreSQL serialise on an advisory lock.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	return s.migrate(ctx, migrations())
}

func (s *Store) migrate(ctx context.Context, steps []Migration) (int, error) {
	db := s.w.WithContext(ctx)
	create := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at %s NOT NULL
	)`, s.dialect.Timestamp())
	if err := db.Exec(create).Error; err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	last := 0
	for i, m := range steps {
		if m.Version != i+1 {
			return 0, fmt.Errorf("migration %q has version %d, want %d (versions are 1, 2, 3, ...)", m.Name, m.Version, i+1)
		}
		err := db.Transaction(func(tx *gorm.DB) error {
			if s.dialect == Postgres {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(7305813)").Error; err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			var n int64
			if err := tx.Raw("SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if err := m.Up(tx, s.dialect); err != nil {
				return err
			}
			return tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				m.Version, m.Name, time.Now().UTC()).Error
		})
		if err != nil {
			return last, fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
		}
		last = m.Version
	}
	return last, nil
}

// SchemaVersion returns the highest applied migration (0 when none).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v *int
	if err := s.r.WithContext(ctx).Raw("SELECT MAX(version) FROM schema_migrations").Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if v == nil {
		return 0, nil
	}
	return *v, nil
}

// execAll runs statements in order, stopping at the first error.
func execAll(tx *gorm.DB, stmts ...string) error {
	for _, q := range stmts {
		if err := tx.Exec(q).Error; err != nil {
			return fmt.Errorf("%.60s...: %w", q, err)
		}
	}
	return nil
}

// migrateCore creates the tables of issue 2.
func migrateCore(tx *gorm.DB, d Dialect) error {
	ts := d.Timestamp()
	return execAll(tx,
		`CREATE TABLE users (
			id `+d.AutoID()+`,
			email TEXT NOT NULL,
			username TEXT NOT NULL,
			name TEXT NOT NULL,
			password_hash TEXT NOT NULL,
			token_version BIGINT NOT NULL DEFAULT 0,
			created_at `+ts+` NOT NULL
		)`,
		`CREATE UNIQUE INDEX users_email_key ON users (email)`,
		`CREATE UNIQUE INDEX users_username_key ON users (lower(username))`,
		`CREATE TABLE roles (
			id `+d.AutoID()+`,
			user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			name TEXT NOT NULL,
			avatar TEXT NOT NULL DEFAULT '',
			description TEXT NOT NULL DEFAULT '',
			ai_instructions TEXT NOT NULL DEFAULT '',
			handle TEXT NOT NULL,
			model TEXT NOT NULL DEFAULT '',
			temperature DOUBLE PRECISION,
			max_tokens INTEGER,
			created_at `+ts+` NOT NULL
		)`,
		`CREATE UNIQUE INDEX roles_user_handle_key ON roles (user_id, handle)`,
		`CREATE TABLE rooms (
			id `+d.AutoID()+`,
			name TEXT NOT NULL,
			created_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			last_seq BIGINT NOT NULL DEFAULT 0,
			created_at `+ts+` NOT NULL
		)`,
		`CREATE TABLE room_members (
			room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
			user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			joined_at `+ts+` NOT NULL,
			PRIMARY KEY (room_id, user_id)
		)`,
		`CREATE INDEX room_members_user_idx ON room_members (user_id)`,
		// role_id has no foreign key on purpose: deleting a role keeps the
		// history of what it said, attributed by author and role_id.
		// messages.created_at is Unix microseconds (UTC): history reads are
		// the hottest query, and the SQLite driver parses text timestamps
		// slowly. The foreign keys of messages are checked at commit: an immediate
		// check makes SQLite keep a statement journal for every insert in a
		// transaction, which costs more than the insert itself.
		`CREATE TABLE messages (
			id `+d.AutoID()+`,
			room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
			seq BIGINT NOT NULL,
			user_id BIGINT REFERENCES users (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED,
			role_id BIGINT,
			content TEXT NOT NULL,
			message_type TEXT NOT NULL,
			author TEXT NOT NULL,
			client_id TEXT,
			truncated BOOLEAN NOT NULL DEFAULT FALSE,
			created_at BIGINT NOT NULL
		)`,
		`CREATE UNIQUE INDEX messages_room_seq_key ON messages (room_id, seq)`,
		`CREATE UNIQUE INDEX messages_client_id_key ON messages (room_id, user_id, client_id)`,
	)
}
