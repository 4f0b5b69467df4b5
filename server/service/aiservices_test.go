package service_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/secrets"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/store/gormstore"
)

// caches records what the seats and keys services report.
type caches struct {
	mu    sync.Mutex
	seats []int64
	keys  []string
}

func (c *caches) SeatsChanged(roomID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seats = append(c.seats, roomID)
}

func (c *caches) KeyChanged(userID int64, provider string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, provider)
}

// events records what the services publish.
type events struct {
	service.NopNotifier
	mu  sync.Mutex
	evs []wsproto.Event
}

func (e *events) Publish(_ int64, ev wsproto.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

type providers struct{ refuse error }

func (providers) ProviderIDs() []string       { return []string{"openai", "anthropic"} }
func (p providers) CheckBaseURL(string) error { return p.refuse }

type aiFixture struct {
	st         *gormstore.Store
	svcs       *service.Services
	caches     *caches
	events     *events
	alice, bob api.User
	room       api.Room
	aliceRole  api.Role
	keyring    *secrets.Keyring
	seats      *service.Seats
	keys       *service.Keys
}

func newAIFixture(t *testing.T) *aiFixture {
	t.Helper()
	ctx := context.Background()
	st, err := gormstore.Open(ctx, filepath.Join(t.TempDir(), "vc.db"), gormstore.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	f := &aiFixture{st: st, caches: &caches{}, events: &events{}}
	f.svcs, err = service.New(service.Deps{Store: st, Secret: []byte("0123456789abcdef0123456789abcdef"),
		BcryptCost: bcrypt.MinCost, Notifier: f.events})
	require.NoError(t, err)
	register := func(name string) api.User {
		u, err := f.svcs.Auth.Register(ctx, api.RegisterRequest{Email: name + "@example.com", Username: name, Name: name, Password: "correct horse battery"})
		require.NoError(t, err)
		return u
	}
	f.alice, f.bob = register("alice"), register("bob")
	f.room, err = f.svcs.Rooms.Create(ctx, f.alice.ID, api.CreateRoomRequest{Name: "ops"})
	require.NoError(t, err)
	_, err = f.svcs.Rooms.AddMember(ctx, f.alice.ID, f.room.ID, api.AddMemberRequest{Username: "bob"})
	require.NoError(t, err)
	f.aliceRole, err = f.svcs.Roles.Create(ctx, f.alice.ID, api.CreateRoleRequest{Name: "PM", Description: "plans", AIInstructions: "You plan."})
	require.NoError(t, err)
	f.keyring, err = secrets.New([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	f.seats = f.svcs.NewSeats(st, f.caches)
	f.keys = service.NewKeys(st, f.keyring, providers{}, f.caches, nil)
	return f
}

func TestSeats_WritesDropTheCachedSeats(t *testing.T) {
	ctx := context.Background()
	f := newAIFixture(t)

	_, err := f.seats.SeatRole(ctx, f.bob.ID, f.room.ID, f.aliceRole.ID)
	var ve *service.ValidationError
	require.True(t, errors.As(err, &ve) && ve.Field == "role_id", "bob does not see alice's role yet: %v", err)
	require.Empty(t, f.caches.seats)

	r, err := f.seats.SeatRole(ctx, f.alice.ID, f.room.ID, f.aliceRole.ID)
	require.NoError(t, err)
	require.Equal(t, "You plan.", r.AIInstructions)
	require.Equal(t, []int64{f.room.ID}, f.caches.seats)
	require.True(t, slices.ContainsFunc(f.events.evs, func(ev wsproto.Event) bool { return ev.Type == wsproto.TypeMembers }))

	_, err = f.seats.SeatRole(ctx, f.alice.ID, f.room.ID, f.aliceRole.ID)
	require.ErrorIs(t, err, service.ErrConflict)
	_, err = f.seats.SeatRole(ctx, f.bob.ID, f.room.ID, f.aliceRole.ID)
	require.ErrorIs(t, err, service.ErrForbidden, "only the owner seats a role")
	require.Equal(t, []int64{f.room.ID}, f.caches.seats, "refused writes drop nothing")

	rs, err := f.seats.RoomRoles(ctx, f.bob.ID, f.room.ID)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Empty(t, rs[0].AIInstructions, "another member does not see the instructions")

	require.NoError(t, f.seats.UnseatRole(ctx, f.alice.ID, f.room.ID, f.aliceRole.ID))
	require.Equal(t, []int64{f.room.ID, f.room.ID}, f.caches.seats)
	require.ErrorIs(t, f.seats.UnseatRole(ctx, f.alice.ID, f.room.ID, f.aliceRole.ID), service.ErrNotFound)
}

func TestKeys_WritesDropTheCachedKeys(t *testing.T) {
	ctx := context.Background()
	f := newAIFixture(t)

	_, err := f.keys.AddKey(ctx, f.alice.ID, api.CreateKeyRequest{Provider: "mistral", APIKey: "sk-x"})
	var ve *service.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	require.Equal(t, "provider", ve.Field)
	require.Contains(t, ve.Message, "known: openai, anthropic")

	k, err := f.keys.AddKey(ctx, f.alice.ID, api.CreateKeyRequest{Provider: " OpenAI ", APIKey: "sk-alice-1234"})
	require.NoError(t, err)
	require.Equal(t, "1234", k.LastFour)
	require.Equal(t, []string{"openai"}, f.caches.keys)

	stored, err := f.st.APIKeyFor(ctx, f.alice.ID, "openai")
	require.NoError(t, err)
	pt, err := f.keyring.Open(stored.Ciphertext, stored.KeyVersion, secrets.KeyAAD(f.alice.ID, "openai"))
	require.NoError(t, err)
	require.Equal(t, "sk-alice-1234", string(pt))
	_, err = f.keyring.Open(stored.Ciphertext, stored.KeyVersion, secrets.KeyAAD(f.bob.ID, "openai"))
	require.Error(t, err, "a sealed key opens only for its owner")

	require.ErrorIs(t, f.keys.DeleteKey(ctx, f.bob.ID, k.ID), service.ErrNotFound)
	require.NoError(t, f.keys.DeleteKey(ctx, f.alice.ID, k.ID))
	require.Equal(t, []string{"openai", "openai", "anthropic"}, f.caches.keys, "a delete drops every provider's entry")

	refusing := service.NewKeys(f.st, f.keyring, providers{refuse: errors.New("is a private address")}, f.caches, nil)
	_, err = refusing.AddKey(ctx, f.alice.ID, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-x", BaseURL: "http://10.0.0.1/v1"})
	require.True(t, errors.As(err, &ve), "%v", err)
	require.Equal(t, "base_url", ve.Field)
}

func TestUsage_ShowsTheBudget(t *testing.T) {
	ctx := context.Background()
	f := newAIFixture(t)
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	rep, err := service.NewUsage(f.st, 5000, func() time.Time { return now }).Usage(ctx, f.alice.ID)
	require.NoError(t, err)
	require.Equal(t, int64(5000), rep.DailyBudget)
	require.Zero(t, rep.UsedToday)
	require.Empty(t, rep.Rows)
}
