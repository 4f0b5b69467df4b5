package gormstore

import "testing"

func TestSplitPoolMax(t *testing.T) {
	for _, tc := range []struct {
		in, dsn string
		n       int
		bad     bool
	}{
		{in: "postgres://u@h/db?sslmode=disable", dsn: "postgres://u@h/db?sslmode=disable"},
		{in: "postgres://u@h/db?pool_max_conns=4&sslmode=disable", dsn: "postgres://u@h/db?sslmode=disable", n: 4},
		{in: "postgres://u@h/db?pool_max_conns=0", bad: true},
		{in: "postgres://u@h/db?pool_max_conns=many", bad: true},
	} {
		dsn, n, err := splitPoolMax(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: no error", tc.in)
			}
			continue
		}
		if err != nil || dsn != tc.dsn || n != tc.n {
			t.Errorf("%s: got %q %d %v, want %q %d", tc.in, dsn, n, err, tc.dsn, tc.n)
		}
	}
}
