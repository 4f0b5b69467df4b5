package metrics

import (
	"context"
	"time"

	"github.com/virtual-company/vc/server/store"
)

// InstrumentStore returns st with its message commits measured (count and
// latency); every other call goes straight to st. Without metrics it
// returns st itself.
func (m *Metrics) InstrumentStore(st store.Store) store.Store {
	if m == nil {
		return st
	}
	return &messageStore{Store: st, m: m}
}

type messageStore struct {
	store.Store
	m *Metrics
}

func (s *messageStore) CreateMessage(ctx context.Context, msg *store.Message) (bool, error) {
	start := time.Now()
	created, err := s.Store.CreateMessage(ctx, msg)
	if err == nil && created {
		s.m.MessageStored(time.Since(start))
	}
	return created, err
}

// MessageStored records one committed message and how long its commit took.
func (m *Metrics) MessageStored(d time.Duration) {
	if m == nil {
		return
	}
	m.messagesStored.Inc()
	m.commitDuration.Observe(d.Seconds())
}
