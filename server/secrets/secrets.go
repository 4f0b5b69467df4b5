// Package secrets encrypts values at rest (the providers' API keys) with
// AES-256-GCM under keys derived from the server secret with HKDF-SHA256.
// Every ciphertext is stored with the version of the key that sealed it, so
// the server secret can be rotated: the old secret stays configured as a
// previous one until every row has been re-sealed under the new version.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

const (
	salt       = "virtual-company/secrets/v1"
	infoKey    = "api-key encryption"
	infoKeyID  = "api-key encryption key id"
	keyIDBytes = 6
)

// ErrUnknownVersion means a ciphertext was sealed under a secret that is no
// longer configured.
var ErrUnknownVersion = errors.New("secrets: unknown key version")

// ErrDecrypt means a ciphertext failed authentication (tampered, or bound to
// other associated data).
var ErrDecrypt = errors.New("secrets: decryption failed")

// Keyring seals under the current secret and opens under the current or any
// previous one. It is safe for concurrent use.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// New derives the keyring from the current server secret and any previous
// secrets still needed to read older rows.
func New(secret []byte, previous ...[]byte) (*Keyring, error) {
	if len(secret) == 0 {
		return nil, errors.New("secrets: empty server secret")
	}
	k := &Keyring{aeads: make(map[string]cipher.AEAD)}
	for i, s := range append([][]byte{secret}, previous...) {
		if len(s) == 0 {
			continue
		}
		id, aead, err := derive(s)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			k.current = id
		}
		if _, ok := k.aeads[id]; !ok {
			k.aeads[id] = aead
		}
	}
	return k, nil
}

func derive(secret []byte) (string, cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, secret, []byte(salt), infoKey, 32)
	if err != nil {
		return "", nil, fmt.Errorf("derive encryption key: %w", err)
	}
	idb, err := hkdf.Key(sha256.New, secret, []byte(salt), infoKeyID, keyIDBytes)
	if err != nil {
		return "", nil, fmt.Errorf("derive key id: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return "", nil, fmt.Errorf("gcm: %w", err)
	}
	return "k1-" + hex.EncodeToString(idb), aead, nil
}

// Version is the key version new ciphertexts are sealed under.
func (k *Keyring) Version() string { return k.current }

// Seal encrypts plaintext bound to aad (for example the owner and provider
// of an API key, so a ciphertext cannot be moved to another row). It returns
// nonce||ciphertext and the key version to store beside it.
func (k *Keyring) Seal(plaintext, aad []byte) (ciphertext []byte, version string, err error) {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", fmt.Errorf("nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, plaintext, aad), k.current, nil
}

// Open decrypts a ciphertext sealed under version with the same aad.
func (k *Keyring) Open(ciphertext []byte, version string, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[version]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownVersion, version)
	}
	ns := aead.NonceSize()
	if len(ciphertext) < ns+aead.Overhead() {
		return nil, ErrDecrypt
	}
	pt, err := aead.Open(nil, ciphertext[:ns], ciphertext[ns:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// NeedsRotation reports whether a row sealed under version should be
// re-sealed under the current key.
func (k *Keyring) NeedsRotation(version string) bool { return version != k.current }

// KeyAAD is the associated data a provider API key is sealed with: it binds
// the ciphertext to its owner and provider, so a row cannot be moved to
// another user or provider and still open.
func KeyAAD(userID int64, provider string) []byte {
	return fmt.Appendf(nil, "vc-api-key:%d:%s", userID, provider)
}
