package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/servertest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// vcBinary is the path of the vc binary built once by TestMain.
var vcBinary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "vc-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	vcBinary = filepath.Join(dir, "vc")
	build := exec.Command("go", "build", "-o", vcBinary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build vc:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs vc the way a script does: no terminal, HOME and the XDG
// directories in a temporary directory, no keyring.
type cli struct {
	t      *testing.T
	home   string
	env    map[string]string
	server string
}

func newCLI(t *testing.T, server string) *cli {
	t.Helper()
	home := t.TempDir()
	return &cli{t: t, home: home, server: server, env: map[string]string{
		"HOME":            home,
		"XDG_CONFIG_HOME": filepath.Join(home, "config"),
		"XDG_DATA_HOME":   filepath.Join(home, "data"),
		"XDG_STATE_HOME":  filepath.Join(home, "state"),
		"XDG_CACHE_HOME":  filepath.Join(home, "cache"),
		"PATH":            os.Getenv("PATH"),
	}}
}

func (c *cli) environ(extra ...string) []string {
	var out []string
	for k, v := range c.env {
		out = append(out, k+"="+v)
	}
	return append(out, extra...)
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// run runs vc with stdin and extra environment entries ("K=V" arguments
// before the first flag or command are taken as environment).
func (c *cli) run(stdin string, args ...string) result {
	c.t.Helper()
	var extra []string
	for len(args) > 0 && strings.Contains(args[0], "=") && !strings.HasPrefix(args[0], "-") {
		extra, args = append(extra, args[0]), args[1:]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, vcBinary, args...)
	cmd.Env = c.environ(extra...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("run vc %v: %v", args, err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// ok runs vc and requires exit 0.
func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	r := c.run(stdin, args...)
	require.Equal(c.t, 0, r.code, "vc %v: %s", args, r)
	return r.stdout
}

// jsonOut runs vc and decodes its stdout into v.
func (c *cli) jsonOut(v any, stdin string, args ...string) {
	c.t.Helper()
	out := c.ok(stdin, args...)
	require.NoError(c.t, json.Unmarshal([]byte(out), v), "vc %v printed %q", args, out)
}

// register registers and logs in username on the cli's server.
func (c *cli) register(username string, extra ...string) {
	c.t.Helper()
	args := append([]string{"auth", "register", "--server", c.server, "--username", username,
		"--email", username + "@example.com", "--password-stdin"}, extra...)
	c.ok("pw-"+username+"-12345\n", args...)
}

// proc is a vc process running in the background.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *syncBuffer
	done   chan struct{}
	err    error // the result of Wait, once done is closed
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (c *cli) start(args ...string) *proc {
	c.t.Helper()
	cmd := exec.Command(vcBinary, args...)
	cmd.Env = c.environ()
	cmd.Stdin = strings.NewReader("")
	pr, pw := io.Pipe()
	p := &proc{cmd: cmd, lines: make(chan string, 1024), stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = pw, p.stderr
	require.NoError(c.t, cmd.Start())
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	c.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// exitCode waits (with a deadline) for the process to end and returns its
// exit code.
func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("process did not end; stderr: %s", p.stderr)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, p.err)
	return 0
}

// waitLine returns the first line for which match is true.
func (p *proc) waitLine(t *testing.T, d time.Duration, match func(string) bool) string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("process ended without the expected line; stderr: %s", p.stderr)
			}
			if match(l) {
				return l
			}
		case <-deadline:
			t.Fatalf("no expected line within %s; stderr: %s", d, p.stderr)
		}
	}
}

func TestAuth_RegisterLoginLogout(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	c := newCLI(t, d.URL)

	c.register("alice", "--name", "Alice A")
	// The token went to a 0600 file (no keyring here) and never to stdout.
	tokPath := filepath.Join(c.home, "config", "vc", "tokens.json")
	fi, err := os.Stat(tokPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	cfgBytes, err := os.ReadFile(filepath.Join(c.home, "config", "vc", "config.yaml"))
	require.NoError(t, err)
	require.NotContains(t, string(cfgBytes), "eyJ", "the config file must not hold a token")

	require.Equal(t, "alice\n", c.ok("", "whoami"))
	var st struct {
		Profile, Server, Username, Name, TokenSource string `json:",omitempty"`
		LoggedIn                                     bool   `json:"logged_in"`
		TS                                           string `json:"token_source"`
	}
	c.jsonOut(&st, "", "auth", "status", "--json")
	require.True(t, st.LoggedIn)
	require.Equal(t, "default", st.Profile)
	require.Equal(t, d.URL, st.Server)
	require.Equal(t, "alice", st.Username)
	require.Equal(t, "Alice A", st.Name)
	require.Equal(t, "file", st.TS)

	// vc auth token prints a token the API accepts.
	tok := strings.TrimSpace(c.ok("", "auth", "token"))
	status, body := d.Do("GET", "/api/auth/me", tok, nil)
	require.Equal(t, 200, status, string(body))

	// Logout forgets it: authentication required (4).
	c.ok("", "auth", "logout")
	r := c.run("", "rooms", "list")
	require.Equal(t, 4, r.code, r.String())
	require.Contains(t, r.stderr, "vc login")
	require.Equal(t, 4, c.run("", "auth", "status").code)
	require.Equal(t, 4, c.run("", "auth", "token").code)

	// Wrong password: an error (1), not "authentication required".
	r = c.run("wrong-password\n", "login", "--username", "alice", "--password-stdin")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, "Incorrect username or password")

	// No terminal and no --password-stdin: fail naming the flag, never prompt.
	r = c.run("", "login", "--username", "alice")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, "--password-stdin")
	r = c.run("", "auth", "register", "--email", "x@example.com", "--password-stdin")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, "--username")

	// Login by email, then --with-token with an existing token.
	c.ok("pw-alice-12345\n", "login", "--username", "alice@example.com", "--password-stdin")
	require.Equal(t, "alice\n", c.ok("", "whoami"))
	c.ok("", "auth", "logout")
	c.ok(tok+"\n", "login", "--with-token")
	require.Equal(t, "alice\n", c.ok("", "whoami"))
	fi, err = os.Stat(tokPath)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// --everywhere invalidates the token on the server too.
	r = c.run("", "auth", "logout", "--everywhere")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, "--yes")
	c.ok("", "auth", "logout", "--everywhere", "--yes")
	status, _ = d.Do("GET", "/api/auth/me", tok, nil)
	require.Equal(t, 401, status)

	// A rejected token (VC_TOKEN) is authentication required too.
	r = c.run("", "VC_TOKEN=not-a-token", "rooms", "list")
	require.Equal(t, 4, r.code, r.String())
}

func TestRoomsRolesMessages(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	alice := newCLI(t, d.URL)
	alice.register("alice")
	bob := newCLI(t, d.URL)
	bob.register("bob")

	var room api.Room
	alice.jsonOut(&room, "", "rooms", "create", "general", "--json")
	require.Equal(t, "general", room.Name)
	require.NotZero(t, room.ID)
	alice.ok("", "rooms", "create", "scratch")

	// Non-terminal tables are tab-separated lines for scripts.
	lines := strings.Split(strings.TrimSpace(alice.ok("", "rooms", "list")), "\n")
	require.Len(t, lines, 2)
	require.True(t, strings.HasPrefix(lines[0], fmt.Sprintf("%d\tgeneral\t", room.ID)), lines[0])
	// --json FIELDS and --jq.
	var picked []map[string]any
	alice.jsonOut(&picked, "", "rooms", "list", "--json", "id,name")
	require.Len(t, picked, 2)
	require.Len(t, picked[0], 2)
	require.Equal(t, "general", picked[0]["name"])
	require.Equal(t, "general\nscratch\n", alice.ok("", "rooms", "list", "--jq", ".[].name"))
	r := alice.run("", "rooms", "list", "--json", "id,bogus")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, `unknown JSON field "bogus"`)
	require.Contains(t, r.stderr, "last_seq", "the error lists the valid fields")

	// Members: add bob by name; bob sees the room by name.
	alice.ok("", "rooms", "add", "general", "bob")
	var members []api.Member
	alice.jsonOut(&members, "", "rooms", "members", "general", "--json")
	require.Len(t, members, 2)
	require.Equal(t, "general\n", bob.ok("", "rooms", "list", "--jq", ".[].name"))

	// Send from stdin (piped, and with "-") and as an argument.
	bob.ok("hello from a pipe\n", "send", "general")
	alice.ok("second line\nthird line\n", "send", "general", "-")
	var sent api.Message
	alice.jsonOut(&sent, "", "send", fmt.Sprint(room.ID), "an argument", "--json")
	require.Equal(t, "an argument", sent.Content)
	require.Equal(t, int64(3), sent.Seq)

	var hist []api.Message
	bob.jsonOut(&hist, "", "history", "general", "--json")
	require.Len(t, hist, 3)
	require.Equal(t, "hello from a pipe", hist[0].Content)
	require.Equal(t, "bob", hist[0].User)
	require.Equal(t, "second line\nthird line", hist[1].Content)
	require.Equal(t, "alice", hist[2].User)
	for i, m := range hist {
		require.Equal(t, int64(i+1), m.Seq)
		require.Equal(t, api.MessageText, m.MessageType)
	}
	bob.jsonOut(&hist, "", "history", "general", "--after", "1", "--limit", "1", "--json")
	require.Len(t, hist, 1)
	require.Equal(t, int64(2), hist[0].Seq)
	require.Equal(t, "an argument\n", bob.ok("", "history", "general", "--before", "4", "--limit", "1", "--jq", ".[].content"))
	human := bob.ok("", "history", "general")
	require.Contains(t, human, "bob: hello from a pipe")

	// Empty and unknown.
	r = alice.run("", "send", "general", "   ")
	require.Equal(t, 1, r.code)
	r = alice.run("", "history", "nosuch")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, `no room "nosuch"`)

	// Roles: instructions from stdin, show, edit, seat, unseat, delete.
	var role api.Role
	alice.jsonOut(&role, "You review code carefully.\n", "roles", "create", "--name", "Reviewer", "--handle", "reviewer",
		"--description", "reviews diffs", "--instructions-file", "-", "--json")
	require.Equal(t, "Reviewer", role.Name)
	require.Equal(t, "You review code carefully.\n", role.AIInstructions)
	instr := filepath.Join(t.TempDir(), "pm.md")
	require.NoError(t, os.WriteFile(instr, []byte("You are a PM."), 0o600))
	alice.ok("", "roles", "create", "PM", "--instructions-file", instr, "--temperature", "0.3")
	require.Equal(t, "You are a PM.\n", alice.ok("", "roles", "show", "PM", "--jq", ".ai_instructions"))
	alice.ok("", "roles", "edit", "@reviewer", "--description", "reviews everything", "--max-tokens", "500")
	var edited api.Role
	alice.jsonOut(&edited, "", "roles", "show", fmt.Sprint(role.ID), "--json")
	require.Equal(t, "reviews everything", edited.Description)
	require.NotNil(t, edited.MaxTokens)
	require.Equal(t, 500, *edited.MaxTokens)
	require.Equal(t, role.AIInstructions, edited.AIInstructions, "fields not given stay")
	require.Equal(t, 1, alice.run("", "roles", "edit", "reviewer").code, "edit without flags is an error")

	aliceTok := strings.TrimSpace(alice.ok("", "auth", "token"))
	if served(d, "GET", fmt.Sprintf("/api/rooms/%d/roles", room.ID), aliceTok, nil) {
		alice.ok("", "roles", "seat", "general", "reviewer")
		var detail struct {
			Roles   []api.Role   `json:"roles"`
			Members []api.Member `json:"members"`
		}
		bob.jsonOut(&detail, "", "rooms", "show", "general", "--json", "roles,members")
		require.Len(t, detail.Roles, 1)
		require.Equal(t, "Reviewer", detail.Roles[0].Name)
		require.Len(t, detail.Members, 2)
		alice.ok("", "roles", "unseat", "general", "Reviewer", "--yes")
		require.Equal(t, "[]\n", alice.ok("", "roles", "list", "--room", "general", "--json"))

	} else {
		t.Log("vcd does not serve /api/rooms/{id}/roles yet: seat/unseat not covered")
	}

	// Deleting without a terminal needs --yes.
	r = alice.run("", "roles", "delete", "PM")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "--yes")
	alice.ok("", "roles", "delete", "PM", "--yes")
	require.Equal(t, "Reviewer\n", alice.ok("", "roles", "list", "--jq", ".[].name"))

	// Rename, leave, delete.
	alice.ok("", "rooms", "rename", "scratch", "lobby")
	require.Equal(t, "general\nlobby\n", alice.ok("", "rooms", "list", "--jq", ".[].name"))
	bob.ok("", "rooms", "leave", "general", "-y")
	require.Equal(t, "", bob.ok("", "rooms", "list", "--jq", ".[].name"))
	r = alice.run("", "rooms", "delete", "lobby")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "--yes")
	alice.ok("", "rooms", "delete", "lobby", "--yes")
	require.Equal(t, "general\n", alice.ok("", "rooms", "list", "--jq", ".[].name"))
	// Only the creator may delete: the server's detail is the error line.
	r = bob.run("", "rooms", "delete", fmt.Sprint(room.ID), "--yes")
	require.Equal(t, 1, r.code, r.String())
	require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line: %q", r.stderr)
}

func TestTail_ReceivesMessagesFromAnotherProcess(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	alice := newCLI(t, d.URL)
	alice.register("alice")
	bob := newCLI(t, d.URL)
	bob.register("bob")
	alice.ok("", "rooms", "create", "general")
	alice.ok("", "rooms", "add", "general", "bob")
	alice.ok("", "send", "general", "before tail")

	tail := alice.start("tail", "general", "--json", "-n", "1")
	first := tail.waitLine(t, 30*time.Second, func(string) bool { return true })
	var ev wsproto.Event
	require.NoError(t, json.Unmarshal([]byte(first), &ev))
	require.Equal(t, wsproto.TypeMessage, ev.Type)
	require.Equal(t, "before tail", ev.Content)

	// Sent by another process (and another user) while tail follows.
	bob.ok("", "send", "general", "from bob")
	line := tail.waitLine(t, 30*time.Second, func(l string) bool {
		var e wsproto.Event
		return json.Unmarshal([]byte(l), &e) == nil && e.Type == wsproto.TypeMessage
	})
	require.NoError(t, json.Unmarshal([]byte(line), &ev))
	require.Equal(t, "from bob", ev.Content)
	require.Equal(t, "bob", ev.User)
	require.Equal(t, int64(2), ev.Seq)

	// The daemon restarts: tail reconnects and resumes after the last seq,
	// missing nothing and repeating nothing.
	d.Restart()
	bob.ok("", "send", "general", "after restart")
	line = tail.waitLine(t, 60*time.Second, func(l string) bool {
		var e wsproto.Event
		return json.Unmarshal([]byte(l), &e) == nil && e.Type == wsproto.TypeMessage
	})
	require.NoError(t, json.Unmarshal([]byte(line), &ev))
	require.Equal(t, "after restart", ev.Content)
	require.Equal(t, int64(3), ev.Seq)

	// Ctrl-C closes the socket and exits with 2 (cancelled).
	require.NoError(t, tail.cmd.Process.Signal(syscall.SIGINT))
	require.Equal(t, 2, tail.exitCode(t), "stderr: %s", tail.stderr)
	require.Contains(t, tail.stderr.String(), "reconnect", "the connection loss was reported on stderr")
}

func TestProfiles_Switching(t *testing.T) {
	t.Parallel()
	d1 := servertest.Start(t)
	d2 := servertest.Start(t)
	c := newCLI(t, d1.URL)
	c.register("alice")
	// Logging in to another server without --profile makes a new profile
	// named after its host instead of overwriting "default".
	d2acct := d2.Register("bob")
	c.ok(d2acct.Password+"\n", "login", "--server", d2.URL, "--username", "bob", "--password-stdin", "--profile", "work")

	require.Equal(t, "bob\n", c.ok("", "whoami"), "the last login's profile is current")
	require.Equal(t, "alice\n", c.ok("", "--profile", "default", "whoami"))
	require.Equal(t, "alice\n", c.ok("", "VC_PROFILE=default", "whoami"))
	require.Equal(t, "bob\n", c.ok("", "VC_PROFILE=default", "--profile", "work", "whoami"), "the flag wins over the env")
	c.ok("", "config", "set", "current_profile", "default")
	require.Equal(t, "default\n", c.ok("", "config", "get", "current_profile"))
	require.Equal(t, "alice\n", c.ok("", "whoami"))
	require.Equal(t, d2.URL+"\n", c.ok("", "config", "get", "profiles.work.server"))
	require.Equal(t, d1.URL+"\n", c.ok("", "config", "get", "server"))

	// VC_SERVER / --server override the profile's server (here with the
	// matching token passed in VC_TOKEN, as CI would).
	require.Equal(t, "bob\n", c.ok("", "VC_SERVER="+d2.URL, "VC_TOKEN="+d2acct.Token, "whoami"))
	// alice's token means nothing to d2.
	require.Equal(t, 4, c.run("", "--server", d2.URL, "whoami").code)

	var st struct {
		Profiles []string `json:"profiles"`
	}
	c.jsonOut(&st, "", "auth", "status", "--json")
	require.Equal(t, []string{"default", "work"}, st.Profiles)

	r := c.run("", "config", "set", "nonsense", "1")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "current_profile")

	// A fresh machine with only VC_TOKEN and VC_SERVER: no stored state.
	ci := newCLI(t, d2.URL)
	require.Equal(t, "bob\n", ci.ok("", "VC_SERVER="+d2.URL, "VC_TOKEN="+d2acct.Token, "whoami"))
	_, err := os.Stat(filepath.Join(ci.home, "config", "vc"))
	require.True(t, os.IsNotExist(err), "VC_TOKEN must not write state")
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	c := newCLI(t, d.URL)
	require.Equal(t, 0, c.run("", "version").code)
	require.Equal(t, 4, c.run("", "--server", d.URL, "rooms", "list").code, "no login")
	c.register("carol")
	r := c.run("", "rooms", "show", "404")
	require.Equal(t, 1, r.code, r.String())
	require.Equal(t, 1, c.run("", "rooms", "list", "--no-such-flag").code)
	require.Equal(t, 1, c.run("", "no-such-command").code)
	// (The profile's token belongs to d, so an unreachable --server is tried
	// with a VC_TOKEN: the stored token is never sent there.)
	r = c.run("", "VC_TOKEN=x", "--server", "http://127.0.0.1:1", "rooms", "list")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, "cannot reach the server at http://127.0.0.1:1")
	require.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line: %q", r.stderr)
	r = c.run("", "keys", "add", "openai", "sk-in-an-argument")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "never taken from an argument")
	require.NotContains(t, r.stderr+r.stdout, "sk-in-an-argument")
}

func TestHelp_Golden(t *testing.T) {
	c := newCLI(t, "http://127.0.0.1:1")
	out := c.ok("", "--help")
	golden := filepath.Join("testdata", "root-help.golden")
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(out), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -run TestHelp_Golden -update to create it")
	require.Equal(t, string(want), out, "vc --help changed: review and refresh with -update")
	// Every command has help text with an example.
	for _, args := range [][]string{{"auth"}, {"auth", "login"}, {"rooms", "list"}, {"roles", "create"}, {"send"}, {"history"}, {"tail"}, {"ask"}, {"models"}, {"keys", "add"}, {"config"}} {
		h := c.ok("", append(args, "--help")...)
		require.Contains(t, h, "Examples:", "vc %v --help", args)
	}
}

func TestImports_NoServer(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	for _, p := range strings.Split(string(out), "\n") {
		require.False(t, strings.HasPrefix(p, "github.com/virtual-company/vc/server"), "vc imports %s", p)
		require.NotContains(t, p, "openai-go", "vc must not link the LLM SDKs")
		require.NotContains(t, p, "anthropic-sdk-go", "vc must not link the LLM SDKs")
		// Go runs the init of every linked package on every command, not only
		// vc chat: glamour's chroma (lexers and styles parse embedded XML) and
		// bluemonday cost ~25 ms of init, more than the whole startup budget of
		// vc version (issue 5). The TUI renders Markdown with tui/markdown.
		for _, slow := range []string{"glamour", "chroma", "bluemonday"} {
			require.NotContains(t, p, slow, "vc must not link %s: its package init slows every command", slow)
		}
	}
}

func TestOutput_ColorAndLayoutEnv(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	c := newCLI(t, d.URL)
	c.register("dora")
	c.ok("", "rooms", "create", "general")

	plain := c.ok("", "rooms", "list")
	require.NotContains(t, plain, "\x1b[", "no colour when stdout is not a terminal")
	require.Contains(t, plain, "\tgeneral\t")

	forced := c.ok("", "CLICOLOR_FORCE=1", "rooms", "list")
	require.Contains(t, forced, "\x1b[", "CLICOLOR_FORCE forces colour")
	require.Contains(t, forced, "NAME", "and the table layout with its header")

	noColor := c.ok("", "CLICOLOR_FORCE=1", "NO_COLOR=1", "rooms", "list")
	require.NotContains(t, noColor, "\x1b[", "NO_COLOR wins")

	r := c.run("", "rooms", "list", "--jq", ".[")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "--jq")
}
