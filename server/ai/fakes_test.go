package ai_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/store"
)

// memBackend is an in-memory ai.Backend that publishes stored messages
// through the same recorder as the orchestrator's events.
type memBackend struct {
	mu       sync.Mutex
	roles    map[int64]store.Role
	seats    map[int64][]int64
	members  map[int64][]store.Member
	msgs     map[int64][]api.Message
	keys     map[string]ai.Credentials // "user/provider"
	usage    []ai.UsageRecord
	nextID   int64
	pub      *recorder
	keyReads []string
}

func newMemBackend(pub *recorder) *memBackend {
	return &memBackend{roles: map[int64]store.Role{}, seats: map[int64][]int64{}, members: map[int64][]store.Member{},
		msgs: map[int64][]api.Message{}, keys: map[string]ai.Credentials{}, pub: pub}
}

func (b *memBackend) addRole(r store.Role) store.Role {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.roles[r.ID] = r
	return r
}

func (b *memBackend) seat(roomID int64, roleIDs ...int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seats[roomID] = append(b.seats[roomID], roleIDs...)
}

func (b *memBackend) RoleByID(_ context.Context, id int64) (store.Role, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.roles[id]
	if !ok {
		return store.Role{}, store.ErrNotFound
	}
	return r, nil
}

func (b *memBackend) SeatedRoles(_ context.Context, roomID int64) ([]store.Role, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []store.Role
	for _, id := range b.seats[roomID] {
		out = append(out, b.roles[id])
	}
	return out, nil
}

func (b *memBackend) RoleSeated(_ context.Context, roomID, roleID int64) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range b.seats[roomID] {
		if id == roleID {
			return true, nil
		}
	}
	return false, nil
}

func (b *memBackend) Members(_ context.Context, roomID int64) ([]store.Member, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.members[roomID], nil
}

func (b *memBackend) RecentMessages(_ context.Context, roomID, upto int64, limit int) ([]api.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []api.Message
	for _, m := range b.msgs[roomID] {
		if m.Seq <= upto {
			out = append(out, m)
		}
	}
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

func (b *memBackend) store(m api.Message) api.Message {
	b.mu.Lock()
	b.nextID++
	m.ID = b.nextID
	m.Seq = int64(len(b.msgs[m.RoomID]) + 1)
	m.Timestamp = time.Now().UTC()
	b.msgs[m.RoomID] = append(b.msgs[m.RoomID], m)
	b.mu.Unlock()
	b.pub.Publish(m.RoomID, wsproto.Event{Type: wsproto.TypeMessage, RoomID: m.RoomID, ID: m.ID, Seq: m.Seq, User: m.User,
		UserID: m.UserID, RoleID: m.RoleID, Content: m.Content, MessageType: m.MessageType, Truncated: m.Truncated})
	return m
}

// human stores a message from a user, as the messages service would.
func (b *memBackend) human(roomID, userID int64, user, content string, roleID *int64) api.Message {
	uid := userID
	return b.store(api.Message{RoomID: roomID, UserID: &uid, RoleID: roleID, Content: content, MessageType: api.MessageText, User: user})
}

func (b *memBackend) CreateAIResponse(_ context.Context, roomID int64, role api.Role, content string, truncated bool) (api.Message, error) {
	rid := role.ID
	return b.store(api.Message{RoomID: roomID, RoleID: &rid, Content: content, MessageType: api.MessageAIResponse, User: role.Name, Truncated: truncated}), nil
}

func (b *memBackend) CreateSystem(_ context.Context, roomID int64, content string) (api.Message, error) {
	return b.store(api.Message{RoomID: roomID, Content: content, MessageType: api.MessageSystem, User: "system"}), nil
}

func (b *memBackend) UserKey(_ context.Context, userID int64, provider string) (ai.Credentials, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keyReads = append(b.keyReads, fmt.Sprintf("%d/%s", userID, provider))
	c, ok := b.keys[fmt.Sprintf("%d/%s", userID, provider)]
	return c, ok, nil
}

func (b *memBackend) setKey(userID int64, provider, key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys[fmt.Sprintf("%d/%s", userID, provider)] = ai.Credentials{APIKey: key}
}

func (b *memBackend) RecordUsage(_ context.Context, u ai.UsageRecord) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.usage = append(b.usage, u)
	return nil
}

func (b *memBackend) TokensSince(_ context.Context, userID int64, since time.Time) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for _, u := range b.usage {
		if u.UserID == userID && !u.At.Before(since) {
			n += u.InputTokens + u.OutputTokens
		}
	}
	return n, nil
}

func (b *memBackend) messages(roomID int64) []api.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]api.Message(nil), b.msgs[roomID]...)
}

// recorder is a Publisher that keeps every event and lets tests wait.
type recorder struct {
	mu     sync.Mutex
	events []wsproto.Event
	ch     chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1)} }

func (r *recorder) Publish(roomID int64, ev wsproto.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *recorder) all() []wsproto.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]wsproto.Event(nil), r.events...)
}

// waitFor waits until pred holds over the events so far.
func (r *recorder) waitFor(t *testing.T, what string, pred func([]wsproto.Event) bool) []wsproto.Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		evs := r.all()
		if pred(evs) {
			return evs
		}
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s; events: %s", what, describe(evs))
		}
	}
}

func count(evs []wsproto.Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// ends counts terminal events (ai_done and ai_error).
func ends(evs []wsproto.Event) int {
	return count(evs, wsproto.TypeAIDone) + count(evs, wsproto.TypeAIError)
}

func describe(evs []wsproto.Event) string {
	var sb strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&sb, "\n  %s stream=%s delta=%q content=%q detail=%q code=%s", e.Type, e.StreamID, e.Delta, e.Content, e.Detail, e.Code)
	}
	return sb.String()
}

// streamText concatenates the deltas of one stream, in publish order.
func streamText(evs []wsproto.Event, streamID string) string {
	var sb strings.Builder
	for _, e := range evs {
		if e.Type == wsproto.TypeAIDelta && e.StreamID == streamID {
			sb.WriteString(e.Delta)
		}
	}
	return sb.String()
}
