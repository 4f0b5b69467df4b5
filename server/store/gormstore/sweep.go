package gormstore

import (
	"context"
	"fmt"
)

// ExistingRooms implements store.AdminStore.
func (s *Store) ExistingRooms(ctx context.Context, ids []int64) (map[int64]bool, error) {
	out := make(map[int64]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var found []int64
	if err := s.r.WithContext(ctx).Raw("SELECT id FROM rooms WHERE id IN ?", ids).Scan(&found).Error; err != nil {
		return nil, fmt.Errorf("existing rooms: %w", translate(err))
	}
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}
