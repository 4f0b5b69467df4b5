package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
)

// childEnv makes the test binary run vcd's main instead of the tests, so a
// test can start a real vcd process with its own limits and signals.
const childEnv = "VC_TEST_RUN_VCD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// syncBuffer collects a child's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// vcdProcess is vcd running as a child process.
type vcdProcess struct {
	addr   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error // cmd.Wait's, once done is closed
}

// startVCD runs vcd in a child process through sh, with shell (e.g.
// "ulimit -n 256") run first, and waits until it answers /health.
func startVCD(t *testing.T, shell string, env ...string) *vcdProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	exe, err := os.Executable()
	require.NoError(t, err)

	script := `exec "$0" "$@"`
	if shell != "" {
		script = shell + " && " + script
	}
	cmd := exec.Command("sh", "-c", script, exe,
		"--listen", addr, "--data-dir", t.TempDir(), "--log-format", "json", "--log-level", "info")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VCD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv+"=1", "XDG_CONFIG_HOME="+t.TempDir(), "VCD_BCRYPT_COST=4")
	cmd.Env = append(cmd.Env, env...)
	p := &vcdProcess{addr: addr, cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	require.NoError(t, cmd.Start())
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("vcd stderr:\n%s", p.stderr.String())
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		if status, _ := p.get("/health"); status == http.StatusOK {
			return p
		}
		require.True(t, time.Now().Before(deadline), "vcd did not answer /health")
		select {
		case <-p.done:
			t.Fatalf("vcd exited early: %v\n%s", p.err, p.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *vcdProcess) client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

func (p *vcdProcess) get(path string) (int, error) {
	resp, err := p.client().Get("http://" + p.addr + path)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func (p *vcdProcess) post(t *testing.T, path string, body any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := p.client().Post("http://"+p.addr+path, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

// alive fails the test when vcd has exited.
func (p *vcdProcess) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("vcd exited: %v\n%s", p.err, p.stderr.String())
	default:
	}
}

// TestVCD_SurvivesIdleConnectionFlood: a vcd limited to 256 open files
// takes 512 idle connections. Before, accept failed with EMFILE and vcd
// exited. Now, with the derived http.max_conns (128), the connections over
// it get 503 and the idle ones are closed after http.idle_timeout; with
// http.max_conns set above the file limit, accept does fail with EMFILE and
// is retried until idle connections are closed. Either way vcd answers
// /health and logins once they are gone.
func TestVCD_SurvivesIdleConnectionFlood(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       []string
		wantLog   string
		wantRefus bool
	}{
		{"derived max_conns", nil, `"max_conns":128`, true},
		{"max_conns above the file limit", []string{"VCD_HTTP_MAX_CONNS=100000", "VCD_HTTP_MAX_CONNS_PER_IP=0"}, `"msg":"accept failed, retrying"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startVCD(t, "ulimit -n 256", append([]string{"VCD_HTTP_IDLE_TIMEOUT=2s"}, tc.env...)...)
			flood(t, p, 512, tc.wantRefus)
			require.Contains(t, p.stderr.String(), tc.wantLog)

			require.Equal(t, http.StatusOK, waitStatus(t, p, "/health", http.StatusOK))
			status, b := p.post(t, "/api/auth/register", api.RegisterRequest{Email: "ann@example.com", Username: "ann", Name: "Ann", Password: "password-ann"})
			require.Equal(t, http.StatusCreated, status, string(b))
			status, b = p.post(t, "/api/auth/login", api.LoginRequest{Username: "ann", Password: "password-ann"})
			require.Equal(t, http.StatusOK, status, string(b))
			p.alive(t)
		})
	}
}

// flood opens n idle connections and waits until vcd has ended every one:
// refused at once with 503, or closed as idle. A vcd that died would end
// them too, hence alive at the end.
func flood(t *testing.T, p *vcdProcess, n int, wantRefused bool) {
	t.Helper()
	var conns []net.Conn
	for range n {
		c, err := net.DialTimeout("tcp", p.addr, 10*time.Second)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	refused, idle := 0, 0
	for _, c := range conns {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(60*time.Second)))
		line, err := bufio.NewReader(c).ReadString('\n')
		switch {
		case strings.HasPrefix(line, "HTTP/1.1 503"):
			refused++
		case err != nil && !errors.Is(err, os.ErrDeadlineExceeded):
			idle++
		default:
			t.Fatalf("connection not ended by vcd: %q %v", line, err)
		}
		_ = c.Close()
	}
	t.Logf("%d connections refused with 503, %d closed as idle", refused, idle)
	require.Positive(t, idle)
	if wantRefused {
		require.Positive(t, refused)
	}
	p.alive(t)
}

// waitStatus polls path until it answers want (the last idle connections
// may still hold their places for a moment).
func waitStatus(t *testing.T, p *vcdProcess, path string, want int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, err := p.get(path)
		if status == want || time.Now().After(deadline) {
			return status
		}
		_ = err
		p.alive(t)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestVCD_SIGTERMWithSlowClientsExitsZero: clients that send half a request,
// half a header, nothing at all, or wait on a kept-alive connection do not
// hold a SIGTERM. Before, the half request held it for all of
// shutdown_timeout and vcd exited 1.
func TestVCD_SIGTERMWithSlowClientsExitsZero(t *testing.T) {
	const shutdownTimeout = 20 * time.Second
	p := startVCD(t, "", "VCD_SHUTDOWN_TIMEOUT="+shutdownTimeout.String())

	dial := func(send string) net.Conn {
		c, err := net.Dial("tcp", p.addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		if send != "" {
			_, err = io.WriteString(c, send)
			require.NoError(t, err)
		}
		return c
	}
	halfBody := dial("POST /api/auth/login HTTP/1.1\r\nHost: vcd\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user")
	halfHeader := dial("GET /health HTTP/1.1\r\nHost: vc")
	silent := dial("")
	keptAlive := dial("GET /health HTTP/1.1\r\nHost: vcd\r\n\r\n")
	require.NoError(t, keptAlive.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(keptAlive), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	// Both partial requests have reached vcd's reader once /health answers
	// on a fresh connection after them.
	require.Equal(t, http.StatusOK, waitStatus(t, p, "/health", http.StatusOK))

	start := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.done:
	case <-time.After(2 * shutdownTimeout):
		t.Fatal("vcd did not exit")
	}
	took := time.Since(start)
	require.NoError(t, p.err, "vcd must exit 0")
	require.Less(t, took, shutdownTimeout/2, "slow clients held the shutdown")
	for _, c := range []net.Conn{halfBody, halfHeader, silent, keptAlive} {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err := io.Copy(io.Discard, c)
		require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "connection left open")
	}
}
