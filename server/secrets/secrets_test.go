package secrets_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/virtual-company/vc/server/secrets"
)

func TestKeyring_RoundTripAndBinding(t *testing.T) {
	k, err := secrets.New([]byte("server-secret-one"))
	require.NoError(t, err)
	ct, ver, err := k.Seal([]byte("sk-live-abcdef"), []byte("user:1/openai"))
	require.NoError(t, err)
	require.Equal(t, k.Version(), ver)
	require.False(t, bytes.Contains(ct, []byte("sk-live-abcdef")))
	pt, err := k.Open(ct, ver, []byte("user:1/openai"))
	require.NoError(t, err)
	require.Equal(t, "sk-live-abcdef", string(pt))

	_, err = k.Open(ct, ver, []byte("user:2/openai"))
	require.ErrorIs(t, err, secrets.ErrDecrypt)
	ct[len(ct)-1] ^= 1
	_, err = k.Open(ct, ver, []byte("user:1/openai"))
	require.ErrorIs(t, err, secrets.ErrDecrypt)

	ct2, _, err := k.Seal([]byte("sk-live-abcdef"), nil)
	require.NoError(t, err)
	ct3, _, err := k.Seal([]byte("sk-live-abcdef"), nil)
	require.NoError(t, err)
	require.NotEqual(t, ct2, ct3, "nonces must differ")
}

func TestKeyring_Rotation(t *testing.T) {
	old, err := secrets.New([]byte("old-secret"))
	require.NoError(t, err)
	ct, ver, err := old.Seal([]byte("key"), nil)
	require.NoError(t, err)

	onlyNew, err := secrets.New([]byte("new-secret"))
	require.NoError(t, err)
	require.NotEqual(t, old.Version(), onlyNew.Version())
	_, err = onlyNew.Open(ct, ver, nil)
	require.ErrorIs(t, err, secrets.ErrUnknownVersion)

	rotated, err := secrets.New([]byte("new-secret"), []byte("old-secret"))
	require.NoError(t, err)
	require.True(t, rotated.NeedsRotation(ver))
	pt, err := rotated.Open(ct, ver, nil)
	require.NoError(t, err)
	require.Equal(t, "key", string(pt))
	ct2, ver2, err := rotated.Seal(pt, nil)
	require.NoError(t, err)
	require.Equal(t, onlyNew.Version(), ver2)
	pt, err = onlyNew.Open(ct2, ver2, nil)
	require.NoError(t, err)
	require.Equal(t, "key", string(pt))
}
