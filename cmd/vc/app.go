package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/virtual-company/vc/client"
)

// app is the CLI's shared state: streams, environment, the global flags and
// the config, loaded lazily so that `vc version` never touches the disk.
type app struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	getenv func(string) string
	now    func() time.Time

	// stdinFd is the descriptor of stdin when it is a file (for no-echo
	// prompts), else -1.
	stdinFd   int
	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool

	// Global flags.
	profileFlag string
	serverFlag  string

	// defaultWas is the profile that was the default before a login made
	// another one the default ("" when it did not).
	defaultWas string

	cfg      *configStore
	tokens   *tokenStore
	stdinBuf *bufio.Reader
}

// newApp returns the app of a real process: os streams and environment.
func newApp() *app {
	return &app{
		in:        os.Stdin,
		out:       os.Stdout,
		errOut:    os.Stderr,
		getenv:    os.Getenv,
		now:       time.Now,
		stdinFd:   int(os.Stdin.Fd()),
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
}

// config loads the config file once.
func (a *app) config() (*configStore, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	dir, err := configDir(a.getenv)
	if err != nil {
		return nil, err
	}
	c, err := loadConfig(dir)
	if err != nil {
		return nil, err
	}
	a.cfg = c
	a.tokens = newTokenStore(dir, a.getenv)
	return c, nil
}

// profile returns the selected profile: --profile, VC_PROFILE, the config's
// current_profile, else "default".
func (a *app) profile() (string, error) {
	name := a.profileFlag
	if name == "" {
		name = a.getenv("VC_PROFILE")
	}
	if name == "" {
		cfg, err := a.config()
		if err != nil {
			return "", err
		}
		name = cfg.currentProfile()
	}
	if name == "" {
		name = defaultProfile
	}
	name = strings.ToLower(name)
	if err := validProfileName(name); err != nil {
		return "", err
	}
	return name, nil
}

// server returns the server of the selected profile: --server, VC_SERVER,
// the profile's server, else vcd's default address.
func (a *app) server() (string, error) {
	if a.serverFlag != "" {
		return a.serverFlag, nil
	}
	if s := a.getenv("VC_SERVER"); s != "" {
		return s, nil
	}
	p, err := a.profile()
	if err != nil {
		return "", err
	}
	cfg, err := a.config()
	if err != nil {
		return "", err
	}
	if s := cfg.profileGet(p, pkServer); s != "" {
		return s, nil
	}
	return defaultServer, nil
}

// anonClient returns a client without credentials (register, login).
func (a *app) anonClient() (*client.Client, error) {
	srv, err := a.server()
	if err != nil {
		return nil, err
	}
	return client.New(srv, client.WithUserAgent("vc/"+version))
}

// canonServer is the form a server URL is stored and compared in (the
// client's base URL: a scheme, no trailing slash).
func canonServer(s string) string {
	c, err := client.New(s)
	if err != nil {
		return s
	}
	return c.BaseURL()
}

// profileServer is the server stored in profile, else vcd's default address.
func (a *app) profileServer(profile string) string {
	if s := a.cfg.profileGet(profile, pkServer); s != "" {
		return canonServer(s)
	}
	return canonServer(defaultServer)
}

// token returns the token for the selected server and where it came from:
// VC_TOKEN first, then the profile's token for that server from the keyring
// or the token file. It returns "" when there is none: a token is only ever
// sent to the server that issued it.
func (a *app) token(ctx context.Context) (tok, source string, err error) {
	if t := strings.TrimSpace(a.getenv("VC_TOKEN")); t != "" {
		return t, storeEnv, nil
	}
	p, err := a.profile()
	if err != nil {
		return "", "", err
	}
	cfg, err := a.config()
	if err != nil {
		return "", "", err
	}
	srv, err := a.server()
	if err != nil {
		return "", "", err
	}
	srv = canonServer(srv)
	where := cfg.profileGet(p, pkTokenStore)
	if where == "" && !cfg.hasProfile(p) {
		return "", "", nil
	}
	tok, err = a.tokens.load(ctx, p, srv, where, srv == a.profileServer(p))
	if err != nil {
		return "", "", err
	}
	if where == "" {
		where = storeFile
	}
	return tok, where, nil
}

// client returns an authenticated client for the selected profile, or an
// exit-code-4 error when there is no token for the selected server, or the
// token has expired.
func (a *app) client(ctx context.Context) (*client.Client, error) {
	tok, _, err := a.token(ctx)
	if err != nil {
		return nil, err
	}
	if tok == "" {
		p, _ := a.profile()
		srv, _ := a.server()
		if srv = canonServer(srv); a.cfg != nil && a.cfg.hasProfile(p) && srv != a.profileServer(p) {
			return nil, &authError{msg: fmt.Sprintf("not logged in to %s (profile %q is for %s): run `vc login --server %s`, or set VC_TOKEN", srv, p, a.profileServer(p), srv)}
		}
		return nil, &authError{msg: fmt.Sprintf("not logged in (profile %q): run `vc login`, or set VC_TOKEN", p)}
	}
	if exp, ok := tokenExpiry(tok); ok && !exp.After(time.Now()) {
		return nil, expiredError(exp)
	}
	c, err := a.anonClient()
	if err != nil {
		return nil, err
	}
	c.SetToken(tok)
	return c, nil
}

// tokenExpiry reads the exp claim of a JWT access token without checking
// its signature (only the server can): it is used to tell an expired login
// from a missing one.
func tokenExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if json.Unmarshal(b, &claims) != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	sec, err := claims.Exp.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(sec), 0), true
}

// expiredError is the exit-code-4 error of an expired token.
func expiredError(exp time.Time) error {
	return &authError{msg: fmt.Sprintf("token expired at %s; run vc login", exp.Local().Format(time.RFC3339))}
}
