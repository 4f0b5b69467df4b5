package connlimit_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/connlimit"
)

// flakyListener fails Accept with the queued errors before each real accept.
type flakyListener struct {
	net.Listener
	errs []error
}

func (f *flakyListener) Accept() (net.Conn, error) {
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: err}
	}
	return f.Listener.Accept()
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// TestListener_TransientAcceptErrorsAreRetried: EMFILE, ENFILE, ENOBUFS and
// ECONNABORTED do not end Accept (fasthttp would end Serve on them).
func TestListener_TransientAcceptErrorsAreRetried(t *testing.T) {
	ln := listen(t)
	l := connlimit.New(&flakyListener{Listener: ln, errs: []error{
		syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ECONNABORTED, syscall.EMFILE,
	}}, connlimit.Options{})
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	got, err := l.Accept()
	require.NoError(t, err)
	require.Equal(t, 1, l.Open())
	require.NoError(t, got.Close())
	require.Equal(t, 0, l.Open())
}

func TestListener_PermanentErrorAndCloseEndAccept(t *testing.T) {
	ln := listen(t)
	l := connlimit.New(&flakyListener{Listener: ln, errs: []error{syscall.EINVAL}}, connlimit.Options{})
	_, err := l.Accept()
	require.ErrorIs(t, err, syscall.EINVAL)

	l = connlimit.New(&flakyListener{Listener: ln, errs: []error{syscall.EMFILE, syscall.EMFILE, syscall.EMFILE, syscall.EMFILE}}, connlimit.Options{})
	done := make(chan error, 1)
	go func() { _, err := l.Accept(); done <- err }()
	require.NoError(t, l.Close())
	select {
	case err := <-done:
		require.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Accept did not end on Close during its backoff")
	}
}

// TestListener_Caps: over max_conns_per_ip and max_conns a connection gets
// 503 and is closed; a released place is taken again.
func TestListener_Caps(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts connlimit.Options
	}{
		{"per ip", connlimit.Options{MaxConnsPerIP: 2}},
		{"total", connlimit.Options{MaxConns: 2, MaxConnsPerIP: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listen(t)
			l := connlimit.New(ln, tc.opts)
			accepted := make(chan net.Conn, 10)
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						close(accepted)
						return
					}
					accepted <- c
				}
			}()
			defer l.Close()
			var clients []net.Conn
			for range 3 {
				c, err := net.Dial("tcp", ln.Addr().String())
				require.NoError(t, err)
				defer c.Close()
				clients = append(clients, c)
			}
			first, second := <-accepted, <-accepted
			// The third is refused.
			require.NoError(t, clients[2].SetReadDeadline(time.Now().Add(10*time.Second)))
			line, err := bufio.NewReader(clients[2]).ReadString('\n')
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(line, "HTTP/1.1 503"), line)
			require.Equal(t, 2, l.Open())
			require.NoError(t, first.Close())
			c, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			select {
			case got := <-accepted:
				require.NoError(t, got.Close())
			case <-time.After(10 * time.Second):
				t.Fatal("a released place was not given again")
			}
			require.NoError(t, second.Close())
		})
	}
}

// TestListener_CutIdleSparesServingAndDetached: the shutdown cut ends reads
// of idle connections only.
func TestListener_CutIdleSparesServingAndDetached(t *testing.T) {
	ln := listen(t)
	l := connlimit.New(ln, connlimit.Options{FirstByteTimeout: time.Minute})
	var server []*connlimit.Conn
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		sc, err := l.Accept()
		require.NoError(t, err)
		server = append(server, sc.(*connlimit.Conn))
	}
	server[1].Serving(true)
	server[2].Detach()
	require.Equal(t, 1, l.CutIdle(time.Second))
	_, err := server[0].Read(make([]byte, 1))
	require.True(t, errors.Is(err, syscall.ETIMEDOUT) || isTimeout(err), fmt.Sprint(err))
	require.Equal(t, 2, l.CloseAll(), "CloseAll spares the detached one")
	require.Equal(t, 1, l.Open())
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestDefaultMaxConns(t *testing.T) {
	for limit, want := range map[uint64]int{0: 0, 100: 50, 256: 128, 1024: 896, 20000: 17500, 65536: 57344} {
		require.Equal(t, want, connlimit.DefaultMaxConns(limit), "limit %d", limit)
	}
}
