package mention

import (
	"slices"
	"testing"
)

func TestHandles(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"no mention", nil},
		{"@pm what do you think?", []string{"pm"}},
		{"ask @CTO and @law., then @cto again", []string{"cto", "law"}},
		{"mail a@b.com is not a mention", nil},
	} {
		if got := Handles(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Handles(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}
