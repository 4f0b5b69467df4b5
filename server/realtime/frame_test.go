package realtime

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFrame_HeaderSizes checks the three length encodings of RFC 6455 5.2
// at their edges, and that frameLen (which the writer uses to find where a
// cut write stopped) agrees with what appendFrame builds.
func TestFrame_HeaderSizes(t *testing.T) {
	for _, tc := range []struct {
		n      int
		header []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{0xFFFF, []byte{0x81, 126, 0xFF, 0xFF}},
		{0x10000, binary.BigEndian.AppendUint64([]byte{0x81, 127}, 0x10000)},
	} {
		payload := bytes.Repeat([]byte{'x'}, tc.n)
		f := appendFrame(nil, opText, payload)
		require.Equal(t, tc.header, f[:len(tc.header)], "n=%d", tc.n)
		require.Equal(t, payload, f[len(tc.header):], "n=%d", tc.n)
		require.Len(t, f, frameLen(tc.n), "n=%d", tc.n)
	}
}

// TestFrame_SharedBytes: NewFrame builds the wire bytes once; Data is the
// payload inside them, so every socket writes the same bytes.
func TestFrame_SharedBytes(t *testing.T) {
	f := NewFrame([]byte(`{"type":"message"}`))
	require.Equal(t, `{"type":"message"}`, string(f.Data))
	require.Equal(t, append([]byte{0x81, 18}, f.Data...), f.wire)
	require.False(t, f.begun())
	require.True(t, restOf(f.wire[3:]).begun())
}
