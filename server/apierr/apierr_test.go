package apierr_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/virtual-company/vc/server/apierr"
	"github.com/virtual-company/vc/server/store"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want *apierr.Kind
	}{
		{"bare kind", apierr.NotFound, apierr.NotFound},
		{"wrapped kind", fmt.Errorf("find room: %w", apierr.Forbidden), apierr.Forbidden},
		{"catalogue error", &apierr.Error{Kind: apierr.ProviderTimeout, Detail: "slow"}, apierr.ProviderTimeout},
		{"outermost wins", &apierr.Error{Kind: apierr.ReplyFailed, Err: apierr.NotFound}, apierr.ReplyFailed},
		{"store unreachable", fmt.Errorf("list rooms: %w", store.ErrUnavailable), apierr.Unavailable},
		{"anything else", errors.New("boom"), apierr.Internal},
		{"nil", nil, apierr.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apierr.Of(tt.err); got != tt.want {
				t.Errorf("Of(%v) = %q, want %q", tt.err, got.Code, tt.want.Code)
			}
		})
	}
}

// TestNarrowKindsAreTheirParents: code testing the broad kind keeps
// matching an error of a narrower one.
func TestNarrowKindsAreTheirParents(t *testing.T) {
	for narrow, broad := range map[*apierr.Kind]*apierr.Kind{
		apierr.Taken: apierr.BadRequest, apierr.RoomNameTaken: apierr.Conflict,
		apierr.Revoked: apierr.Unauthorized, apierr.TooManySockets: apierr.RateLimited,
	} {
		err := &apierr.Error{Kind: narrow, Detail: "x"}
		if !errors.Is(err, broad) {
			t.Errorf("%s is not a %s to errors.Is", narrow, broad)
		}
		if errors.Is(broad, narrow) {
			t.Errorf("%s is a %s to errors.Is", broad, narrow)
		}
	}
}

// TestAllListsEveryKind: a kind added to the catalogue is in All.
func TestAllListsEveryKind(t *testing.T) {
	b, err := os.ReadFile("apierr.go")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "= &Kind{"); n != len(apierr.All()) {
		t.Errorf("apierr.go declares %d kinds, All lists %d", n, len(apierr.All()))
	}
}

// TestDocsListEveryCode: docs/api.md's code table lists every wire code of
// pkg/api that an HTTP answer can carry, with every status the catalogue
// gives it, and no code the catalogue does not know.
func TestDocsListEveryCode(t *testing.T) {
	b, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]string{} // code -> status cell
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "| code | status | meaning |"):
			in = true
		case in && strings.HasPrefix(line, "|---"):
		case in && strings.HasPrefix(line, "| `"):
			cells := strings.Split(line, "|")
			doc[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[2])
		case in:
			in = false
		}
	}
	if len(doc) == 0 {
		t.Fatal("no code table in docs/api.md")
	}
	known := map[string]bool{}
	for _, k := range apierr.All() {
		known[k.Code] = true
		cell, ok := doc[k.Code]
		if !ok {
			t.Errorf("docs/api.md does not list code %q", k.Code)
			continue
		}
		if !strings.Contains("/"+cell+"/", "/"+strconv.Itoa(k.Status)+"/") {
			t.Errorf("docs/api.md gives %q status %s; the catalogue answers %d (%s)", k.Code, cell, k.Status, k)
		}
	}
	for code := range doc {
		if !known[code] {
			t.Errorf("docs/api.md lists code %q that no kind of the catalogue has", code)
		}
	}
	// Every HTTP code of pkg/api is a kind's (the signaling ones are
	// documented with the signaling socket).
	signaling := map[string]bool{"bad_json": true, "bad_message": true, "unknown_peer": true}
	for name, code := range apiCodes(t) {
		if !known[code] && !signaling[code] {
			t.Errorf("api.%s (%q) is no kind's code in server/apierr", name, code)
		}
	}
}

// apiCodes reads the Code* constants of pkg/api.
func apiCodes(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../pkg/api/api.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, "Code") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, _ := strconv.Unquote(lit.Value)
					out[n.Name] = v
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no Code constants in pkg/api")
	}
	return out
}
