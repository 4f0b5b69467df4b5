package tui

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseBackground(t *testing.T) {
	for _, tc := range []struct {
		in             string
		dark, ok, done bool
	}{
		{"\x1b]11;rgb:0000/0000/0000\x07\x1b[?62;22c", true, true, true},
		{"\x1b]11;rgb:ffff/ffff/ffff\x1b\\\x1b[?1;2c", false, true, true},
		{"\x1b]11;rgb:fd/f6/e3\x07", false, true, false}, // solarized light, 8-bit
		{"\x1b]11;rgb:1e1e/1e1e/2e2e\x07", true, true, false},
		{"\x1b[?62;22c", false, false, true}, // DA1 only: no OSC 11 support
		{"\x1b]11;rgb:zz/00/00\x07", false, false, false},
		{"", false, false, false},
	} {
		dark, ok, done := parseBackground([]byte(tc.in))
		require.Equal(t, [3]bool{tc.dark, tc.ok, tc.done}, [3]bool{dark, ok, done}, "%q", tc.in)
	}
}
