package gormstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ClusterProbe is the value sealed under the cluster's secret_key by the
// first node; a node that cannot open it has another key.
type ClusterProbe struct {
	Sealed     []byte
	KeyVersion string
	NodeID     string
}

// EnsureClusterProbe stores p unless a probe is stored already, and returns
// the stored one (p itself when it was the first).
func (s *Store) EnsureClusterProbe(ctx context.Context, p ClusterProbe, now time.Time) (ClusterProbe, error) {
	err := s.w.WithContext(ctx).Exec(`INSERT INTO cluster_probe (id, sealed, key_version, node_id, created_at)
		VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, p.Sealed, p.KeyVersion, p.NodeID, now.UTC()).Error
	if err != nil {
		return ClusterProbe{}, fmt.Errorf("store cluster probe: %w", err)
	}
	var out ClusterProbe
	row := s.w.WithContext(ctx).Raw(`SELECT sealed, key_version, node_id FROM cluster_probe WHERE id = 1`).Row()
	if err := row.Scan(&out.Sealed, &out.KeyVersion, &out.NodeID); err != nil {
		return ClusterProbe{}, fmt.Errorf("read cluster probe: %w", err)
	}
	return out, nil
}

// AILease is a running AI reply as the cluster counts it: which node owns
// it (streams it), whose message and which room it answers. The owner
// renews ExpiresAt while it streams; a lease that expires unfinished
// belongs to a node that died.
type AILease struct {
	StreamID  string
	NodeID    string
	UserID    int64
	RoomID    int64
	StartedAt time.Time
	ExpiresAt time.Time
}

// AILeaseLimits are the cluster-wide limits of AI replies (0 or less: off).
type AILeaseLimits struct {
	PerUser, PerRoom, PerUserPerMinute int
}

// Refusals of AcquireAILease.
const (
	LeaseRefusedUser   = "user"
	LeaseRefusedRoom   = "room"
	LeaseRefusedMinute = "minute"
)

// aiLeaseLock is the advisory lock that serialises lease admissions on
// PostgreSQL (AI replies start a few times a second at most).
const aiLeaseLock = 0x7663_6169 // "vcai"

// AcquireAILease stores l unless a limit is reached; refused names the
// limit ("" when stored), and for the per-minute limit retryAt is when a
// slot frees up.
func (s *Store) AcquireAILease(ctx context.Context, l AILease, lim AILeaseLimits) (refused string, retryAt time.Time, err error) {
	err = s.w.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.dialect == Postgres {
			if err := tx.Exec(`SELECT pg_advisory_xact_lock(?)`, aiLeaseLock).Error; err != nil {
				return err
			}
		}
		now := l.StartedAt.UTC()
		count := func(q string, args ...any) (int, error) {
			var n int64
			err := tx.Raw(q, args...).Row().Scan(&n)
			return int(n), err
		}
		if lim.PerUser > 0 {
			n, err := count(`SELECT COUNT(*) FROM ai_reply_leases WHERE user_id = ? AND finished_at IS NULL AND expires_at > ?`, l.UserID, now)
			if err != nil {
				return err
			}
			if n >= lim.PerUser {
				refused = LeaseRefusedUser
				return nil
			}
		}
		if lim.PerRoom > 0 && l.RoomID != 0 {
			n, err := count(`SELECT COUNT(*) FROM ai_reply_leases WHERE room_id = ? AND finished_at IS NULL AND expires_at > ?`, l.RoomID, now)
			if err != nil {
				return err
			}
			if n >= lim.PerRoom {
				refused = LeaseRefusedRoom
				return nil
			}
		}
		if lim.PerUserPerMinute > 0 {
			var oldest []time.Time
			if err := tx.Raw(`SELECT started_at FROM ai_reply_leases WHERE user_id = ? AND started_at > ? ORDER BY started_at`,
				l.UserID, now.Add(-time.Minute)).Scan(&oldest).Error; err != nil {
				return err
			}
			if len(oldest) >= lim.PerUserPerMinute {
				refused, retryAt = LeaseRefusedMinute, oldest[0].Add(time.Minute)
				return nil
			}
		}
		return tx.Exec(`INSERT INTO ai_reply_leases (stream_id, node_id, user_id, room_id, started_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			l.StreamID, l.NodeID, l.UserID, l.RoomID, now, l.ExpiresAt.UTC()).Error
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("acquire ai reply lease: %w", err)
	}
	return refused, retryAt, nil
}

// FinishAILease marks a reply done (it still counts for the per-minute
// limit until it is a minute old).
func (s *Store) FinishAILease(ctx context.Context, streamID string, now time.Time) error {
	if err := s.w.WithContext(ctx).Exec(`UPDATE ai_reply_leases SET finished_at = ? WHERE stream_id = ? AND finished_at IS NULL`,
		now.UTC(), streamID).Error; err != nil {
		return fmt.Errorf("finish ai reply lease: %w", err)
	}
	return nil
}

// DropAILease forgets a reply that never ran (its question was not
// stored), so it does not count at all.
func (s *Store) DropAILease(ctx context.Context, streamID string) error {
	if err := s.w.WithContext(ctx).Exec(`DELETE FROM ai_reply_leases WHERE stream_id = ?`, streamID).Error; err != nil {
		return fmt.Errorf("drop ai reply lease: %w", err)
	}
	return nil
}

// RenewAILeases extends the running leases of a node until until.
func (s *Store) RenewAILeases(ctx context.Context, nodeID string, until time.Time) error {
	if err := s.w.WithContext(ctx).Exec(`UPDATE ai_reply_leases SET expires_at = ? WHERE node_id = ? AND finished_at IS NULL`,
		until.UTC(), nodeID).Error; err != nil {
		return fmt.Errorf("renew ai reply leases: %w", err)
	}
	return nil
}

// ClaimExpiredAILeases finishes the leases that expired unfinished (their
// node died) and returns them; each is returned to exactly one caller in
// the cluster, which tells the room. Finished leases older than an hour
// are deleted on the way.
func (s *Store) ClaimExpiredAILeases(ctx context.Context, now time.Time) ([]AILease, error) {
	var rows []struct {
		StreamID  string
		NodeID    string
		UserID    int64
		RoomID    int64
		StartedAt time.Time
		ExpiresAt time.Time
	}
	err := s.w.WithContext(ctx).Raw(`UPDATE ai_reply_leases SET finished_at = ?
		WHERE finished_at IS NULL AND expires_at < ?
		RETURNING stream_id, node_id, user_id, room_id, started_at, expires_at`, now.UTC(), now.UTC()).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("claim expired ai reply leases: %w", err)
	}
	if err := s.w.WithContext(ctx).Exec(`DELETE FROM ai_reply_leases WHERE finished_at IS NOT NULL AND started_at < ?`,
		now.Add(-time.Hour).UTC()).Error; err != nil {
		return nil, fmt.Errorf("prune ai reply leases: %w", err)
	}
	out := make([]AILease, len(rows))
	for i, r := range rows {
		out[i] = AILease{StreamID: r.StreamID, NodeID: r.NodeID, UserID: r.UserID, RoomID: r.RoomID, StartedAt: r.StartedAt, ExpiresAt: r.ExpiresAt}
	}
	return out, nil
}

// PeekRateWindow returns the current window of a cluster-wide rate limit
// (zero values when there is none).
func (s *Store) PeekRateWindow(ctx context.Context, scope, key string) (time.Time, int, error) {
	var rows []struct {
		WindowStart time.Time
		Hits        int64
	}
	if err := s.w.WithContext(ctx).Raw(`SELECT window_start, hits FROM rate_windows WHERE scope = ? AND key = ?`, scope, key).
		Scan(&rows).Error; err != nil {
		return time.Time{}, 0, fmt.Errorf("read rate window: %w", err)
	}
	if len(rows) == 0 {
		return time.Time{}, 0, nil
	}
	return rows[0].WindowStart, int(rows[0].Hits), nil
}

// HitRateWindow counts one hit in the window of key (a new window starts
// when the last one is window old) and returns the window after the hit,
// in one statement.
func (s *Store) HitRateWindow(ctx context.Context, scope, key string, window time.Duration, now time.Time) (time.Time, int, error) {
	now = now.UTC()
	cut := now.Add(-window)
	var rows []struct {
		WindowStart time.Time
		Hits        int64
	}
	err := s.w.WithContext(ctx).Raw(`INSERT INTO rate_windows (scope, key, window_start, hits) VALUES (?, ?, ?, 1)
		ON CONFLICT (scope, key) DO UPDATE SET
			window_start = CASE WHEN rate_windows.window_start <= ? THEN excluded.window_start ELSE rate_windows.window_start END,
			hits = CASE WHEN rate_windows.window_start <= ? THEN 1 ELSE rate_windows.hits + 1 END
		RETURNING window_start, hits`, scope, key, now, cut, cut).Scan(&rows).Error
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("count rate window: %w", err)
	}
	if len(rows) == 0 {
		return now, 1, nil
	}
	if rows[0].Hits == 1 && s.dialect == Postgres {
		// Expired windows of other keys go now and then.
		_ = s.w.WithContext(ctx).Exec(`DELETE FROM rate_windows WHERE window_start < ?`, now.Add(-24*time.Hour)).Error
	}
	return rows[0].WindowStart, int(rows[0].Hits), nil
}

// ReplaceClusterProbe re-seals the probe (after a secret_key rotation).
func (s *Store) ReplaceClusterProbe(ctx context.Context, p ClusterProbe) error {
	if err := s.w.WithContext(ctx).Exec(`UPDATE cluster_probe SET sealed = ?, key_version = ?, node_id = ? WHERE id = 1`,
		p.Sealed, p.KeyVersion, p.NodeID).Error; err != nil {
		return fmt.Errorf("re-seal cluster probe: %w", err)
	}
	return nil
}
