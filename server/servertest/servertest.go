// Package servertest starts a whole vcd daemon in-process for tests: real
// database (a SQLite file in t.TempDir(), or a throwaway PostgreSQL schema),
// real listener on 127.0.0.1, and a way to stop and restart it on the same
// data and address.
package servertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server"
	"github.com/virtual-company/vc/server/config"
)

// EnvPostgresDSN names the PostgreSQL server tests also run against when set.
const EnvPostgresDSN = "VC_TEST_POSTGRES_DSN"

// Option configures Start.
type Option func(*options)

type options struct {
	mutate   []func(*config.Config)
	postgres string
	logW     io.Writer
	server   []server.Option
}

// WithConfig lets a test change the configuration before the daemon starts.
func WithConfig(f func(*config.Config)) Option {
	return func(o *options) { o.mutate = append(o.mutate, f) }
}

// WithPostgres runs the daemon on a fresh schema of the PostgreSQL server at
// dsn (dropped when the test ends) instead of SQLite.
func WithPostgres(dsn string) Option { return func(o *options) { o.postgres = dsn } }

// WithLogOutput sends the daemon's JSON logs to w (default: discarded).
func WithLogOutput(w io.Writer) Option { return func(o *options) { o.logW = w } }

// WithServerOptions passes opts to server.New (for example server.WithWeb).
func WithServerOptions(opts ...server.Option) Option {
	return func(o *options) { o.server = append(o.server, opts...) }
}

// Daemon is a running (or stopped) in-process vcd.
type Daemon struct {
	// URL is the base URL, http://127.0.0.1:PORT; it stays the same across
	// Restart.
	URL string
	// Addr is host:port.
	Addr string
	// DataDir is the daemon's data directory.
	DataDir string
	// Config is the configuration the daemon runs with.
	Config config.Config

	t      testing.TB
	logger *slog.Logger
	// HTTP is the client Do uses; its idle connections are closed before
	// each Stop so that the drain does not wait for them.
	HTTP *http.Client

	mu     sync.Mutex
	server *server.Server
	done   chan error
	opts   []server.Option
}

// Databases lists the database backends a suite should run on: SQLite
// always, PostgreSQL too when VC_TEST_POSTGRES_DSN is set.
func Databases() map[string][]Option {
	dbs := map[string][]Option{"sqlite": nil}
	if dsn := os.Getenv(EnvPostgresDSN); dsn != "" {
		dbs["postgres"] = []Option{WithPostgres(dsn)}
	}
	return dbs
}

// EachDatabase runs f as a subtest per database of Databases; pass opts on
// to Start.
func EachDatabase(t *testing.T, f func(t *testing.T, opts ...Option)) {
	t.Helper()
	for _, name := range []string{"sqlite", "postgres"} {
		opts, ok := Databases()[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) { f(t, opts...) })
	}
}

// Start runs a daemon for the duration of the test: bcrypt at its minimum
// cost, auth rate limit effectively off, listening on 127.0.0.1:0. It is
// stopped when the test ends.
func Start(t testing.TB, opts ...Option) *Daemon {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = ""
	cfg.BcryptCost = 4
	cfg.RateLimit.AuthPerMinute = 1_000_000
	cfg.ShutdownTimeout = 5 * time.Second
	if o.postgres != "" {
		cfg.DatabaseURL = postgresSchema(t, o.postgres)
	}
	for _, f := range o.mutate {
		f(&cfg)
	}
	cfg.Resolve()
	w := o.logW
	if w == nil {
		w = io.Discard
	}
	d := &Daemon{DataDir: cfg.DataDir, Config: cfg, t: t, logger: slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HTTP: &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatalf("servertest: listen: %v", err)
	}
	d.opts = o.server
	d.Addr = ln.Addr().String()
	d.URL = "http://" + d.Addr
	d.Config.Listen = d.Addr
	if err := d.serve(ln); err != nil {
		t.Fatalf("servertest: %v", err)
	}
	t.Cleanup(d.Stop)
	return d
}

func (d *Daemon) serve(ln net.Listener) error {
	srv, err := server.New(d.Config, d.logger, d.opts...)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("start daemon: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	d.mu.Lock()
	d.server, d.done = srv, done
	d.mu.Unlock()
	return nil
}

// Server returns the running *server.Server (the new one after Restart).
func (d *Daemon) Server() *server.Server {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.server
}

// Stop shuts the daemon down gracefully; calling it again does nothing.
func (d *Daemon) Stop() {
	d.mu.Lock()
	srv, done := d.server, d.done
	d.server, d.done = nil, nil
	d.mu.Unlock()
	if srv == nil {
		return
	}
	d.HTTP.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		d.t.Errorf("servertest: shutdown: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			d.t.Errorf("servertest: serve: %v", err)
		}
	case <-ctx.Done():
		d.t.Errorf("servertest: daemon did not stop")
	}
}

// Restart stops the daemon and starts a new one on the same data dir,
// database and address.
func (d *Daemon) Restart() {
	d.t.Helper()
	d.Stop()
	var ln net.Listener
	var err error
	// The port was just released; another process could grab it in between,
	// but on loopback in a test that is vanishingly rare. Retry briefly in
	// case the kernel has not released it yet.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err = net.Listen("tcp", d.Addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		d.t.Fatalf("servertest: listen again on %s: %v", d.Addr, err)
	}
	if err := d.serve(ln); err != nil {
		d.t.Fatalf("servertest: restart: %v", err)
	}
}

// postgresSchema creates a fresh schema on the server at dsn, drops it when
// the test ends, and returns a DSN whose search_path selects it.
func postgresSchema(t testing.TB, dsn string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "vctest_" + hex.EncodeToString(b[:])
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("servertest: connect to %s: %v", EnvPostgresDSN, err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(1)
	if err := db.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		_ = sqlDB.Close()
		t.Fatalf("servertest: create schema: %v", err)
	}
	t.Cleanup(func() {
		defer sqlDB.Close()
		// Test packages run in parallel, each dropping its schemas: two
		// DROP SCHEMA ... CASCADE at once can deadlock on the catalog, and
		// PostgreSQL then aborts one of them (40P01). Try again.
		var err error
		for attempt := range 5 {
			if err = db.Exec("DROP SCHEMA " + schema + " CASCADE").Error; err == nil || !strings.Contains(err.Error(), "40P01") {
				break
			}
			time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("servertest: drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("servertest: %s must be a postgres:// URL: %v", EnvPostgresDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	// Test packages run in parallel, each with several daemons (a cluster
	// test runs three): a small pool per daemon keeps them all under the
	// server's max_connections (100 by default).
	if q.Get("pool_max_conns") == "" {
		q.Set("pool_max_conns", "4")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Do sends a JSON request (body nil for none) with an optional bearer token
// and returns the status and the raw answer. It fails the test on transport
// errors only.
func (d *Daemon) Do(method, path, token string, body any) (int, []byte) {
	d.t.Helper()
	var rd io.Reader
	if body != nil {
		if raw, ok := body.([]byte); ok {
			rd = bytes.NewReader(raw)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				d.t.Fatalf("servertest: encode body: %v", err)
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, d.URL+path, rd)
	if err != nil {
		d.t.Fatalf("servertest: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := d.HTTP.Do(req)
	if err != nil {
		d.t.Fatalf("servertest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("servertest: read answer: %v", err)
	}
	return resp.StatusCode, b
}

// Account is a registered user with a token.
type Account struct {
	User     api.User
	Password string
	Token    string
}

// Register creates a user (password "password-"+username) and logs in.
func (d *Daemon) Register(username string) Account {
	d.t.Helper()
	pw := "password-" + username
	status, b := d.Do("POST", "/api/auth/register", "", api.RegisterRequest{
		Email: strings.ToLower(username) + "@example.com", Username: username, Name: "User " + username, Password: pw})
	if status != http.StatusCreated {
		d.t.Fatalf("servertest: register %s: %d %s", username, status, b)
	}
	var u api.User
	if err := json.Unmarshal(b, &u); err != nil {
		d.t.Fatalf("servertest: register %s: %v", username, err)
	}
	tok, err := d.Login(username, pw)
	if err != nil {
		d.t.Fatalf("servertest: %v", err)
	}
	return Account{User: u, Password: pw, Token: tok.AccessToken}
}

// Login logs a user in and returns the token.
func (d *Daemon) Login(username, password string) (api.Token, error) {
	status, b := d.Do("POST", "/api/auth/login", "", api.LoginRequest{Username: username, Password: password})
	if status != http.StatusOK {
		return api.Token{}, fmt.Errorf("login %s: %d %s", username, status, b)
	}
	var tok api.Token
	if err := json.Unmarshal(b, &tok); err != nil {
		return api.Token{}, fmt.Errorf("login %s: %w", username, err)
	}
	if tok.AccessToken == "" {
		return api.Token{}, errors.New("login: empty token")
	}
	return tok, nil
}
