package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/secrets"
	"github.com/virtual-company/vc/server/store"
)

// KeyStore is what the keys service reads and writes.
type KeyStore interface {
	CreateAPIKey(ctx context.Context, k *store.APIKey) error
	APIKeys(ctx context.Context, userID int64) ([]store.APIKey, error)
	DeleteAPIKey(ctx context.Context, userID, keyID int64) error
}

// KeyProviders says which providers a key may be stored for and whether a
// key's base_url may be called (server/ai implements it).
type KeyProviders interface {
	// ProviderIDs lists the providers a key may be for.
	ProviderIDs() []string
	// CheckBaseURL says why a key's base_url may not be called (nil: it
	// may).
	CheckBaseURL(raw string) error
}

// Keys stores users' provider API keys, sealed with AES-256-GCM; nobody,
// the owner included, reads a key back.
type Keys struct {
	store     KeyStore
	keyring   *secrets.Keyring
	providers KeyProviders
	caches    AICaches
	now       func() time.Time
}

// NewKeys returns the keys service; caches is told about every key stored
// or deleted (nil: nothing is cached).
func NewKeys(st KeyStore, keyring *secrets.Keyring, providers KeyProviders, caches AICaches, now func() time.Time) *Keys {
	if caches == nil {
		caches = nopCaches{}
	}
	if now == nil {
		now = time.Now
	}
	return &Keys{store: st, keyring: keyring, providers: providers, caches: caches, now: now}
}

// AddKey stores userID's key for a provider (replacing the previous one),
// sealed with AES-256-GCM; the answer shows only its last four characters.
func (s *Keys) AddKey(ctx context.Context, userID int64, req api.CreateKeyRequest) (api.APIKey, error) {
	provider := strings.ToLower(strings.TrimSpace(req.Provider))
	key := strings.TrimSpace(req.APIKey)
	ids := s.providers.ProviderIDs()
	switch {
	case provider == "":
		return api.APIKey{}, Invalid("provider", "is required")
	case !slices.Contains(ids, provider):
		return api.APIKey{}, Invalid("provider", "unknown provider %q (known: %s)", provider, strings.Join(ids, ", "))
	case key == "":
		return api.APIKey{}, Invalid("api_key", "is required")
	case len(key) > 1024:
		return api.APIKey{}, Invalid("api_key", "is longer than 1024 characters")
	case strings.IndexFunc(key, unicode.IsSpace) >= 0:
		return api.APIKey{}, Invalid("api_key", "must not contain spaces")
	}
	base := strings.TrimSpace(req.BaseURL)
	if base != "" {
		if err := s.providers.CheckBaseURL(base); err != nil {
			return api.APIKey{}, Invalid("base_url", "%s", err.Error())
		}
	}
	ct, ver, err := s.keyring.Seal([]byte(key), secrets.KeyAAD(userID, provider))
	if err != nil {
		return api.APIKey{}, fmt.Errorf("seal key: %w", err)
	}
	last := key
	if len(last) > 4 {
		last = last[len(last)-4:]
	}
	k := store.APIKey{UserID: userID, Provider: provider, BaseURL: base, Ciphertext: ct, KeyVersion: ver, LastFour: last, CreatedAt: s.now()}
	if err := s.store.CreateAPIKey(ctx, &k); err != nil {
		return api.APIKey{}, fmt.Errorf("store key: %w", err)
	}
	s.caches.KeyChanged(userID, provider)
	return keyOf(k), nil
}

func keyOf(k store.APIKey) api.APIKey {
	return api.APIKey{ID: k.ID, Provider: k.Provider, LastFour: k.LastFour, BaseURL: k.BaseURL, CreatedAt: k.CreatedAt.UTC()}
}

// Keys lists userID's stored keys (never the keys themselves).
func (s *Keys) Keys(ctx context.Context, userID int64) ([]api.APIKey, error) {
	ks, err := s.store.APIKeys(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]api.APIKey, len(ks))
	for i, k := range ks {
		out[i] = keyOf(k)
	}
	return out, nil
}

// DeleteKey removes one of userID's keys.
func (s *Keys) DeleteKey(ctx context.Context, userID, keyID int64) error {
	if err := s.store.DeleteAPIKey(ctx, userID, keyID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NotFound("Key not found")
		}
		return fmt.Errorf("delete key: %w", err)
	}
	// The row named only its id: drop what is cached of every provider.
	for _, p := range s.providers.ProviderIDs() {
		s.caches.KeyChanged(userID, p)
	}
	return nil
}
