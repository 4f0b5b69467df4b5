package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

// benchUser is a registered, logged-in bench user.
type benchUser struct {
	name   string
	client *client.Client
}

// benchRoom is a room shared by every bench user.
type benchRoom struct {
	server string
	// nodes are the servers sockets are spread over (several cluster nodes;
	// nil: server only).
	nodes []string
	users []benchUser
	room  api.Room
}

// nodeFor is the server socket i connects to: the nodes in turn.
func (b *benchRoom) nodeFor(i int) string {
	if len(b.nodes) == 0 {
		return b.server
	}
	return b.nodes[i%len(b.nodes)]
}

// splitServers splits a --server value: several comma-separated URLs are
// the nodes of a cluster; the first one sets up and sends.
func splitServers(s string) []string {
	var out []string
	for _, one := range strings.Split(s, ",") {
		if one = strings.TrimSpace(one); one != "" {
			out = append(out, one)
		}
	}
	return out
}

const benchPassword = "bench-Passw0rd-42!"

// commonFlags are the flags every subcommand takes.
type commonFlags struct {
	server string
	users  int
}

func (c *commonFlags) register(fs *flag.FlagSet, users int) {
	fs.StringVar(&c.server, "server", "http://127.0.0.1:8000", "vcd base URL; several comma-separated (cluster nodes): set-up and sending go through the first, sockets are spread over all")
	fs.IntVar(&c.users, "users", users, "bench users to register (sockets are spread over them)")
}

// setupRoom registers users (concurrently), creates a room owned by the
// first and adds the others.
func setupRoom(ctx context.Context, server string, n int) (*benchRoom, error) {
	if n < 1 {
		n = 1
	}
	prefix := "b" + strconv.FormatInt(time.Now().UnixNano()%1e12, 36)
	users := make([]benchUser, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			name := fmt.Sprintf("%s_%d", prefix, i)
			c, err := client.New(server, client.WithHTTPClient(&http.Client{Timeout: time.Minute}))
			if err != nil {
				errs[i] = err
				return
			}
			if _, err := c.Register(ctx, api.RegisterRequest{Email: name + "@bench.example", Username: name, Name: name, Password: benchPassword}); err != nil {
				errs[i] = fmt.Errorf("register %s: %w", name, err)
				return
			}
			if _, err := c.Login(ctx, name, benchPassword); err != nil {
				errs[i] = fmt.Errorf("login %s: %w", name, err)
				return
			}
			users[i] = benchUser{name: name, client: c}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	room, err := users[0].client.CreateRoom(ctx, prefix+"-room")
	if err != nil {
		return nil, fmt.Errorf("create room: %w", err)
	}
	for _, u := range users[1:] {
		if _, err := users[0].client.AddMember(ctx, room.ID, u.name); err != nil {
			return nil, fmt.Errorf("add member %s: %w", u.name, err)
		}
	}
	return &benchRoom{server: server, users: users, room: room}, nil
}

// moreRooms returns b and n-1 more rooms like it (owned by the first user,
// every user a member).
func (b *benchRoom) moreRooms(ctx context.Context, n int) ([]*benchRoom, error) {
	out := []*benchRoom{b}
	for i := 1; i < n; i++ {
		room, err := b.users[0].client.CreateRoom(ctx, b.room.Name+"-"+strconv.Itoa(i))
		if err != nil {
			return nil, fmt.Errorf("create room: %w", err)
		}
		for _, u := range b.users[1:] {
			if _, err := b.users[0].client.AddMember(ctx, room.ID, u.name); err != nil {
				return nil, fmt.Errorf("add member %s: %w", u.name, err)
			}
		}
		other := *b
		other.room = room
		out = append(out, &other)
	}
	return out, nil
}

// dial opens a raw chat socket for user i (mod the number of users).
func (b *benchRoom) dial(ctx context.Context, i int, query url.Values) (*websocket.Conn, error) {
	u := b.users[i%len(b.users)]
	wsURL := strings.TrimRight(b.nodeFor(i), "/")
	if !strings.Contains(wsURL, "://") {
		wsURL = "http://" + wsURL
	}
	wsURL = "ws" + strings.TrimPrefix(wsURL, "http")
	wsURL += "/ws/chat/" + strconv.FormatInt(b.room.ID, 10)
	if len(query) > 0 {
		wsURL += "?" + query.Encode()
	}
	h := http.Header{}
	h.Set("Authorization", "Bearer "+u.client.Token())
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", wsURL, err)
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}

// percentile returns the p-th percentile (0..100) of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

func sortDurations(d []time.Duration) { slices.Sort(d) }
