package server_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportDirection keeps the layering: pkg imports only the standard
// library; server never imports client, tui, cmd or web (the browser app
// reaches the daemon as an fs.FS through server.WithWeb).
func TestImportDirection(t *testing.T) {
	const mod = "github.com/virtual-company/vc/"
	deps := func(pattern string) []string {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pattern).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pattern, err)
		}
		return strings.Fields(string(out))
	}
	for _, d := range deps("../pkg/...") {
		if !strings.HasPrefix(d, mod+"pkg/") {
			t.Errorf("pkg depends on %s; it may use the standard library only", d)
		}
	}
	for _, d := range deps("./...") {
		for _, banned := range []string{"client", "tui", "cmd", "web"} {
			if d == mod+banned || strings.HasPrefix(d, mod+banned+"/") {
				t.Errorf("server depends on %s", d)
			}
		}
	}
}
