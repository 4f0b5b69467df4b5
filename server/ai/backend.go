package ai

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/secrets"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/store"
)

// Store is what the AI part reads and writes: the core store plus the AI
// tables (gormstore.Store implements both).
type Store interface {
	store.Store
	store.AIStore
}

// StoreBackend is the Backend of a running daemon: the store, the key
// keyring and the messages service.
type StoreBackend struct {
	Store    Store
	Keys     *secrets.Keyring
	Messages *service.Messages
}

var _ Backend = (*StoreBackend)(nil)

// RoleByID implements Backend.
func (b *StoreBackend) RoleByID(ctx context.Context, roleID int64) (store.Role, error) {
	return b.Store.RoleByID(ctx, roleID)
}

// SeatedRoles implements Backend.
func (b *StoreBackend) SeatedRoles(ctx context.Context, roomID int64) ([]store.Role, error) {
	return b.Store.SeatedRoles(ctx, roomID)
}

// RoleSeated implements Backend.
func (b *StoreBackend) RoleSeated(ctx context.Context, roomID, roleID int64) (bool, error) {
	return b.Store.RoleSeated(ctx, roomID, roleID)
}

// Members implements Backend.
func (b *StoreBackend) Members(ctx context.Context, roomID int64) ([]store.Member, error) {
	return b.Store.Members(ctx, roomID)
}

// RecentMessages implements Backend.
func (b *StoreBackend) RecentMessages(ctx context.Context, roomID, uptoSeq int64, limit int) ([]api.Message, error) {
	ms, err := b.Store.Messages(ctx, roomID, store.MessageQuery{Before: uptoSeq + 1, Limit: limit, Newest: true})
	if err != nil {
		return nil, err
	}
	out := make([]api.Message, len(ms))
	for i, m := range ms {
		out[i] = service.MessageOf(m)
	}
	return out, nil
}

// CreateAIResponse implements Backend.
func (b *StoreBackend) CreateAIResponse(ctx context.Context, roomID int64, role api.Role, content string, truncated bool) (api.Message, error) {
	return b.Messages.CreateAIResponse(ctx, roomID, role, content, truncated)
}

// CreateSystem implements Backend.
func (b *StoreBackend) CreateSystem(ctx context.Context, roomID int64, content string) (api.Message, error) {
	return b.Messages.CreateSystem(ctx, roomID, content)
}

// UserKey implements Backend: it opens the user's stored key.
func (b *StoreBackend) UserKey(ctx context.Context, userID int64, provider string) (Credentials, bool, error) {
	k, err := b.Store.APIKeyFor(ctx, userID, provider)
	if errors.Is(err, store.ErrNotFound) {
		return Credentials{}, false, nil
	}
	if err != nil {
		return Credentials{}, false, err
	}
	pt, err := b.Keys.Open(k.Ciphertext, k.KeyVersion, secrets.KeyAAD(userID, provider))
	if err != nil {
		return Credentials{}, false, fmt.Errorf("open %s key %d: %w", provider, k.ID, err)
	}
	return Credentials{APIKey: string(pt), BaseURL: k.BaseURL}, true, nil
}

// RecordUsage implements Backend.
func (b *StoreBackend) RecordUsage(ctx context.Context, u UsageRecord) error {
	return b.Store.RecordUsage(ctx, &store.UsageRecord{UserID: u.UserID, RoleID: u.RoleID, RoomID: u.RoomID, KeyOwnerID: u.KeyOwnerID,
		Provider: u.Provider, Model: u.Model, InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CreatedAt: u.At})
}

// TokensSince implements Backend.
func (b *StoreBackend) TokensSince(ctx context.Context, userID int64, since time.Time) (int64, error) {
	return b.Store.TokensSince(ctx, userID, since)
}

// ResealKeys re-seals every stored key that is not under the keyring's
// current version (after a secret rotation). Keys that no configured secret
// opens are left alone and counted in failed.
func ResealKeys(ctx context.Context, st Store, keys *secrets.Keyring) (resealed, failed int, err error) {
	old, err := st.APIKeysNotAt(ctx, keys.Version())
	if err != nil {
		return 0, 0, err
	}
	for _, k := range old {
		aad := secrets.KeyAAD(k.UserID, k.Provider)
		pt, oerr := keys.Open(k.Ciphertext, k.KeyVersion, aad)
		if oerr != nil {
			failed++
			continue
		}
		ct, ver, serr := keys.Seal(pt, aad)
		if serr != nil {
			return resealed, failed, serr
		}
		if err := st.ResealAPIKey(ctx, k.ID, ct, ver); err != nil {
			return resealed, failed, err
		}
		resealed++
	}
	return resealed, failed, nil
}
