package main_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/servertest"
)

// fakeJWT is a token whose payload carries exp; its signature is garbage,
// which vc never checks (only the server can).
func fakeJWT(exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc([]byte(fmt.Sprintf(`{"sub":"1","exp":%d}`, exp.Unix()))) + "." + enc([]byte("sig"))
}

func TestAuth_StatusExpiredAndNoStrayLine(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	c := newCLI(t, d.URL)
	c.register("erin")

	// Not logged in: the status and exit 4, nothing else on stderr.
	r := c.run("", "--profile", "nobody", "auth", "status")
	require.Equal(t, 4, r.code, r.String())
	require.Empty(t, r.stderr)
	require.Contains(t, r.stdout, "not logged in")

	// An expired token (written by an older vc: profile -> token) is
	// reported as expired, not as "not logged in".
	exp := time.Now().Add(-time.Hour).Truncate(time.Second)
	tokPath := filepath.Join(c.home, "config", "vc", "tokens.json")
	require.NoError(t, os.WriteFile(tokPath, []byte(`{"default": "`+fakeJWT(exp)+`"}`), 0o600))
	r = c.run("", "auth", "status")
	require.Equal(t, 4, r.code, r.String())
	require.Empty(t, r.stderr)
	require.Contains(t, r.stdout, "token expired at "+exp.Format(time.RFC3339)+"; run vc login")
	require.NotContains(t, r.stdout, "not logged in")
	r = c.run("", "rooms", "list")
	require.Equal(t, 4, r.code, r.String())
	require.Equal(t, "token expired at "+exp.Format(time.RFC3339)+"; run vc login\n", r.stderr)
	r = c.run("", "auth", "status", "--json")
	require.Equal(t, 4, r.code, r.String())
	require.Contains(t, r.stdout, `"token_expired_at"`, r.stdout)
}

func TestAuth_TokenGoesOnlyToItsServer(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	c := newCLI(t, d.URL)
	c.register("fred")
	tok := strings.TrimSpace(c.ok("", "auth", "token"))

	// Another server records every Authorization header it receives.
	var mu sync.Mutex
	var auths []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"detail":"Could not validate credentials"}`)
	}))
	t.Cleanup(other.Close)

	for _, args := range [][]string{{"--server", other.URL, "rooms", "list"}, {"VC_SERVER=" + other.URL, "whoami"}} {
		r := c.run("", args...)
		require.Equal(t, 4, r.code, r.String())
		require.Contains(t, r.stderr, "not logged in to "+other.URL)
	}
	mu.Lock()
	require.Empty(t, auths, "the token must not reach another server")
	mu.Unlock()

	// VC_TOKEN is sent wherever --server says: the user chose it.
	r := c.run("", "VC_TOKEN="+tok, "--server", other.URL, "rooms", "list")
	require.Equal(t, 4, r.code, r.String())
	mu.Lock()
	require.Equal(t, []string{"Bearer " + tok}, auths)
	mu.Unlock()

	// The profile's own server, named explicitly (with a trailing slash),
	// still gets it.
	require.Equal(t, "fred\n", c.ok("", "--server", d.URL+"/", "whoami"))

	// A token file of an older vc (profile -> token) keeps working and is
	// rewritten keyed by server on the next login.
	tokPath := filepath.Join(c.home, "config", "vc", "tokens.json")
	require.NoError(t, os.WriteFile(tokPath, []byte(`{"default": "`+tok+`"}`), 0o600))
	require.Equal(t, "fred\n", c.ok("", "whoami"))
	r = c.run("", "--server", other.URL, "whoami")
	require.Equal(t, 4, r.code, r.String())
	c.ok("pw-fred-12345\n", "login", "--username", "fred", "--password-stdin")
	b, err := os.ReadFile(tokPath)
	require.NoError(t, err)
	require.Contains(t, string(b), `"`+d.URL+`"`)
	require.Equal(t, "fred\n", c.ok("", "whoami"))
}

func TestCLI_MistypedCommandsExit1(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "http://127.0.0.1:1")
	r := c.run("", "rooms", "lst")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, `unknown command "lst" for "vc rooms"`)
	require.Contains(t, r.stderr, "Did you mean this?\n\tlist")
	require.Empty(t, r.stdout, "no help on stdout")

	r = c.run("", "rooms", "remove", "general", "dave")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, `unknown command "remove" for "vc rooms"`)
	require.Contains(t, r.stderr, "\tmembers", "members rm removes a member")

	r = c.run("", "auth", "sttus")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, "\tstatus")

	r = c.run("", "rooms", "add", "general")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, "accepts 2 arg(s), received 1")
	require.Contains(t, r.stderr, "Usage: vc rooms add ROOM USER")

	// A group alone still shows its help.
	require.Contains(t, c.ok("", "rooms"), "Available Commands")
}

func TestCLI_RoomsSharingANameMembersAndConfirmations(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	alice := newCLI(t, d.URL)
	alice.register("alice")
	bob := newCLI(t, d.URL)
	bob.register("bob")

	// Two rooms called general: alice's, and bob's that alice was added to.
	var mine, his struct{ ID int64 }
	alice.jsonOut(&mine, "", "rooms", "create", "general", "--json", "id")
	bob.jsonOut(&his, "", "rooms", "create", "general", "--json", "id")
	bob.ok("", "rooms", "add", fmt.Sprint(his.ID), "alice")

	r := alice.run("", "history", "general")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, fmt.Sprintf("general#%d", mine.ID))
	require.Contains(t, r.stderr, fmt.Sprintf("general#%d", his.ID))
	require.Contains(t, r.stderr, "NAME#ID")
	alice.ok("", "send", fmt.Sprintf("general#%d", his.ID), "in bob's room")
	require.Equal(t, "in bob's room\n", bob.ok("", "history", "general", "--jq", ".[].content"))
	r = alice.run("", "send", fmt.Sprintf("lobby#%d", his.ID), "x")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, fmt.Sprintf("room %d is general#%d", his.ID, his.ID))

	// History off a terminal: RFC 3339 timestamps.
	line := strings.TrimSpace(bob.ok("", "history", "general"))
	ts, _, _ := strings.Cut(line, " ")
	_, err := time.Parse(time.RFC3339, ts)
	require.NoError(t, err, "history line %q", line)

	// Destructive commands need --yes off a terminal, all of them.
	mineRef := fmt.Sprintf("general#%d", mine.ID)
	alice.ok("", "rooms", "add", mineRef, "bob")
	for _, args := range [][]string{
		{"rooms", "members", "rm", mineRef, "bob"},
		{"rooms", "leave", fmt.Sprint(his.ID)},
		{"rooms", "delete", mineRef},
		{"keys", "rm", "1"},
	} {
		r := alice.run("", args...)
		require.Equal(t, 1, r.code, "vc %v: %s", args, r)
		require.Contains(t, r.stderr, "--yes", "vc %v", args)
	}
	r = bob.run("", "rooms", "members", "rm", mineRef, "alice", "--yes")
	require.Equal(t, 1, r.code, "only the creator removes others: %s", r)
	alice.ok("", "rooms", "members", "rm", mineRef, "bob", "-y")
	var members []string
	alice.jsonOut(&members, "", "rooms", "members", mineRef, "--jq", "[.[].username]")
	require.Equal(t, []string{"alice"}, members)
	alice.ok("", "rooms", "leave", fmt.Sprint(his.ID), "--yes")
	require.Equal(t, "general\n", alice.ok("", "rooms", "list", "--jq", ".[].name"))

	// --wait on a message no role will answer fails at once.
	start := time.Now()
	for _, msg := range []string{"hello", "hello @nobody"} {
		r = alice.run("", "send", "general", "--wait", msg)
		require.Equal(t, 1, r.code, r.String())
		require.Equal(t, "no AI role addressed: seat one with vc rooms roles add, or @mention one\n", r.stderr)
	}
	require.Less(t, time.Since(start), 30*time.Second)
	require.Equal(t, "", alice.ok("", "history", "general", "--jq", ".[].content"), "nothing was sent")

	// vc rooms roles add/list/rm seat and unseat.
	alice.ok("", "roles", "create", "--name", "Reviewer", "--handle", "reviewer", "--instructions", "Review.")
	alice.ok("", "rooms", "roles", "add", "general", "reviewer")
	require.Equal(t, "Reviewer\n", alice.ok("", "rooms", "roles", "list", "general", "--jq", ".[].name"))
	require.Equal(t, 1, alice.run("", "rooms", "roles", "rm", "general", "reviewer").code)
	alice.ok("", "rooms", "roles", "rm", "general", "reviewer", "--yes")
	require.Equal(t, "", alice.ok("", "rooms", "roles", "list", "general", "--jq", ".[].name"))
}

func TestAuth_ListSwitchAndDefaultNotice(t *testing.T) {
	t.Parallel()
	d1 := servertest.Start(t)
	d2 := servertest.Start(t)
	c := newCLI(t, d1.URL)
	c.register("joe")
	acct := d2.Register("kim")
	r := c.run(acct.Password+"\n", "login", "--server", d2.URL, "--username", "kim", "--password-stdin", "--profile", "work")
	require.Equal(t, 0, r.code, r.String())
	require.Contains(t, r.stderr, "Profile work is now the default (it was default); switch back with `vc auth switch default`")

	type row struct {
		Profile, Server, Username string
		Current                   bool
		HasToken                  bool `json:"has_token"`
	}
	var rows []row
	c.jsonOut(&rows, "", "auth", "list", "--json")
	require.Equal(t, []row{
		{Profile: "default", Server: d1.URL, Username: "joe", HasToken: true},
		{Profile: "work", Server: d2.URL, Username: "kim", Current: true, HasToken: true},
	}, rows)
	lines := c.ok("", "auth", "list")
	require.Contains(t, lines, "*\twork\t"+d2.URL+"\tkim\tlogged in")

	require.Contains(t, c.ok("", "auth", "switch", "default"), "Switched to profile default (joe on "+d1.URL+")")
	require.Equal(t, "joe\n", c.ok("", "whoami"))
	r = c.run("", "auth", "switch", "nope")
	require.Equal(t, 1, r.code, r.String())
	require.Contains(t, r.stderr, "default, work")

	// Logging in again to the current profile says nothing about defaults.
	r = c.run("pw-joe-12345\n", "login", "--username", "joe", "--password-stdin")
	require.Equal(t, 0, r.code, r.String())
	require.Empty(t, r.stderr)
}

// completions runs cobra's hidden __complete command and returns the
// candidates.
func (c *cli) completions(args ...string) []string {
	c.t.Helper()
	out := c.ok("", append([]string{"__complete"}, args...)...)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") {
			got = append(got, l)
		}
	}
	return got
}

func TestCompletion_ChatCallRoleModelProvider(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	c := newCLI(t, d.URL)
	c.register("lena")
	c.ok("", "rooms", "create", "general")
	c.ok("", "roles", "create", "--name", "Reviewer", "--handle", "reviewer", "--instructions", "Review.")

	require.Equal(t, []string{"general"}, c.completions("chat", ""))
	require.Equal(t, []string{"general"}, c.completions("call", "g"))
	require.Equal(t, []string{"reviewer"}, c.completions("send", "general", "--role", ""))
	require.Equal(t, []string{"reviewer"}, c.completions("ask", "--role", "rev"))
	require.Contains(t, c.completions("keys", "add", ""), "anthropic")

	// Models come from the live list, then from a cache under XDG_CACHE_HOME.
	models := c.completions("ask", "--model", "")
	require.NotEmpty(t, models)
	cached, err := filepath.Glob(filepath.Join(c.home, "cache", "vc", "models-*.json"))
	require.NoError(t, err)
	require.Len(t, cached, 1)
	require.NoError(t, os.WriteFile(cached[0], []byte(fmt.Sprintf(
		`{"server":%q,"fetched_at":%q,"ids":["cached-model"],"providers":["ollama"]}`, d.URL, time.Now().UTC().Format(time.RFC3339))), 0o600))
	require.Equal(t, []string{"cached-model"}, c.completions("send", "general", "-m", ""))
	require.Contains(t, c.completions("keys", "add", ""), "ollama")
}

func TestVersion_Flag(t *testing.T) {
	t.Parallel()
	c := newCLI(t, "http://127.0.0.1:1")
	v := c.ok("", "version")
	require.True(t, strings.HasPrefix(v, "vc "), v)
	require.Contains(t, v, "calls: ")
	require.Equal(t, v, c.ok("", "--version"))
	require.Equal(t, v, c.ok("", "-v"))
}

func TestTail_JoinBurstsAndNoJoins(t *testing.T) {
	t.Parallel()
	d := servertest.Start(t)
	alice := newCLI(t, d.URL)
	alice.register("alice")
	var room api.Room
	alice.jsonOut(&room, "", "rooms", "create", "general", "--json")
	names := []string{"bob", "cyd", "dan"}
	accts := map[string]servertest.Account{}
	for _, u := range names {
		accts[u] = d.Register(u)
		alice.ok("", "rooms", "add", "general", u)
	}

	// "ready" is stored before the tails start and shown as their one line
	// of history: sent after they start, it could be stored before a tail
	// read the room's last seq and then be (rightly) not shown.
	alice.ok("", "send", "general", "ready")
	plain := alice.start("tail", "general", "-n", "1")
	// The joins below are shown only once plain's socket is connected:
	// wait until the room shows alice online.
	tok, err := d.Login("alice", "pw-alice-12345")
	require.NoError(t, err)
	online := time.Now().Add(30 * time.Second)
	for {
		code, body := d.Do("GET", fmt.Sprintf("/api/rooms/%d/members", room.ID), tok.AccessToken, nil)
		require.Equal(t, 200, code, string(body))
		var ms []api.Member
		require.NoError(t, json.Unmarshal(body, &ms))
		if slices.ContainsFunc(ms, func(m api.Member) bool { return m.Username == "alice" && m.Online }) {
			break
		}
		require.True(t, time.Now().Before(online), "plain tail never connected")
		time.Sleep(20 * time.Millisecond)
	}
	quiet := alice.start("tail", "general", "-n", "1", "--no-joins")
	for _, p := range []*proc{plain, quiet} {
		p.waitLine(t, 30*time.Second, func(l string) bool { return strings.HasSuffix(l, "alice: ready") })
	}

	// Three people come online together, then one speaks.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var bob *client.Client
	for _, u := range names {
		c, err := client.New(d.URL)
		require.NoError(t, err)
		c.SetToken(accts[u].Token)
		s, err := c.OpenStream(ctx, room.ID, client.StreamOptions{})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		if u == "bob" {
			bob = c
		}
	}
	_, err = bob.SendMessage(ctx, room.ID, api.CreateMessageRequest{Content: "hello"})
	require.NoError(t, err)

	var joined []string
	plain.waitLine(t, 30*time.Second, func(l string) bool {
		if strings.Contains(l, " joined") {
			joined = append(joined, l)
		}
		return strings.HasSuffix(l, "bob: hello")
	})
	all := strings.Join(joined, "\n")
	// The burst may also hold the join of alice's own second tail, so
	// names past the second may be counted as "N others".
	require.Contains(t, all, "bob", "the joins print before the message")
	for _, u := range names[1:] {
		if !strings.Contains(all, u) {
			require.Contains(t, all, "others joined", "the joins print before the message")
		}
	}
	require.LessOrEqual(t, len(joined), len(names))
	line := quiet.waitLine(t, 30*time.Second, func(l string) bool {
		return strings.Contains(l, "joined") || strings.HasSuffix(l, "bob: hello")
	})
	require.True(t, strings.HasSuffix(line, "bob: hello"), "--no-joins printed %q", line)
}
