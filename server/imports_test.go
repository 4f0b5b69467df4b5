package server_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const mod = "github.com/virtual-company/vc/"

// deps lists the non-standard packages the packages matching patterns
// depend on (themselves included).
func deps(t *testing.T, patterns ...string) []string {
	t.Helper()
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}"}, patterns...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(patterns, " "), err)
	}
	return strings.Fields(string(out))
}

// under reports whether the package path p is pkg or inside it.
func under(p, pkg string) bool { return p == pkg || strings.HasPrefix(p, pkg+"/") }

// TestImportDirection keeps the layering: pkg imports only the standard
// library; server never imports client, tui, cmd or web (the browser app
// reaches the daemon as an fs.FS through server.WithWeb); client never
// imports server.
func TestImportDirection(t *testing.T) {
	for _, d := range deps(t, "../pkg/...") {
		if !strings.HasPrefix(d, mod+"pkg/") {
			t.Errorf("pkg depends on %s; it may use the standard library only", d)
		}
	}
	for _, d := range deps(t, "./...") {
		for _, banned := range []string{"client", "tui", "cmd", "web"} {
			if under(d, mod+banned) {
				t.Errorf("server depends on %s", d)
			}
		}
	}
	for _, d := range deps(t, "../client/...") {
		if under(d, mod+"server") {
			t.Errorf("client depends on %s; it may use pkg only", d)
		}
	}
}

// TestServerLayers keeps the layering inside server: handlers (httpapi)
// -> services -> store interfaces <- gormstore. Services and the AI engine
// never reach the HTTP layer or Fiber; the store interfaces never reach
// their implementation; the socket packages never reach httpapi.
func TestServerLayers(t *testing.T) {
	rules := []struct {
		pkgs   []string
		banned []string
	}{
		{[]string{"./service/...", "./ai/..."}, []string{mod + "server/httpapi", "github.com/gofiber/fiber"}},
		{[]string{"./store"}, []string{mod + "server/store/gormstore", mod + "server/service", mod + "server/httpapi"}},
		{[]string{"./realtime/...", "./signal/..."}, []string{mod + "server/httpapi"}},
		{[]string{"./apierr"}, []string{mod + "server/service", mod + "server/ai", mod + "server/httpapi"}},
	}
	for _, r := range rules {
		for _, d := range deps(t, r.pkgs...) {
			for _, b := range r.banned {
				if under(d, b) {
					t.Errorf("%s depends on %s", strings.Join(r.pkgs, " "), d)
				}
			}
		}
	}
}

// TestOnlyHTTPAPIKnowsStatuses keeps HTTP statuses out of the services and
// the reply engine: they say an error's kind (server/apierr) and the
// catalogue says its status. (The provider packages under server/ai speak
// HTTP to the providers and are not checked.)
func TestOnlyHTTPAPIKnowsStatuses(t *testing.T) {
	status := regexp.MustCompile(`\b(http|fiber)\.Status[A-Z]`)
	for _, dir := range []string{"service", "ai"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if loc := status.FindIndex(b); loc != nil {
				t.Errorf("%s uses %s: say the error's kind (server/apierr) instead", f, b[loc[0]:loc[1]])
			}
		}
	}
}
