package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server"
	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/ai/aitest"
	aiopenai "github.com/virtual-company/vc/server/ai/openai"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/gctune"
)

func aiCommand() command {
	return command{
		name:    "ai",
		summary: "AI replies against a fake provider: time-to-first-token vcd adds, N concurrent streamed replies watched by M members",
		run:     runAI,
	}
}

type aiFlags struct {
	server    string
	fakeAddr  string
	samples   int
	replies   int
	tokens    int
	watchers  int
	tokenRate float64
	skipTTFT  bool
	skipLoad  bool
	inProcess bool
}

func runAI(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("ai", flag.ContinueOnError)
	var f aiFlags
	fs.StringVar(&f.server, "server", "", "vcd base URL; empty starts vcd in this process (temp data dir, SQLite) wired to the fake provider")
	fs.StringVar(&f.fakeAddr, "fake-addr", "127.0.0.1:0", "where the fake OpenAI server listens; an external vcd needs VCD_OPENAI_BASE_URL=http://ADDR/v1")
	fs.IntVar(&f.samples, "samples", 300, "time-to-first-token samples per path")
	fs.IntVar(&f.replies, "replies", 200, "concurrent replies (one room each) in the load run")
	fs.IntVar(&f.tokens, "tokens", 500, "tokens per reply in the load run")
	fs.IntVar(&f.watchers, "watchers", 10, "members watching each room (one socket each)")
	fs.Float64Var(&f.tokenRate, "token-rate", 50, "tokens per second the fake streams per reply in the load run")
	fs.BoolVar(&f.skipTTFT, "skip-ttft", false, "skip the time-to-first-token run")
	fs.BoolVar(&f.skipLoad, "skip-load", false, "skip the concurrent-replies run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := raiseNoFile(); err != nil {
		return err
	}
	fake, err := aitest.Listen(aitest.OpenAI, f.fakeAddr)
	if err != nil {
		return err
	}
	defer fake.Close()
	fmt.Fprintf(out, "fake OpenAI provider at %s\n", fake.URL)
	if f.server == "" {
		url, stop, err := startInProcess(fake.URL)
		if err != nil {
			return err
		}
		defer stop()
		f.server, f.inProcess = url, true
		fmt.Fprintf(out, "vcd in-process at %s (SQLite in a temp dir)\n", url)
	}
	if !f.skipTTFT {
		if err := aiTTFT(ctx, f, fake, out); err != nil {
			return fmt.Errorf("time to first token: %w", err)
		}
	}
	if !f.skipLoad {
		if err := aiLoad(ctx, f, fake, out); err != nil {
			return fmt.Errorf("concurrent replies: %w", err)
		}
	}
	return nil
}

// startInProcess runs a vcd with the limits lifted, wired to the fake.
func startInProcess(fakeURL string) (string, func(), error) {
	dir, err := os.MkdirTemp("", "vcbench-ai-")
	if err != nil {
		return "", nil, err
	}
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.DatabaseURL = ""
	cfg.BcryptCost = 4
	cfg.RateLimit.AuthPerMinute = 0
	cfg.Realtime.MaxSocketsPerUser = 0
	cfg.HTTP.MaxConnsPerIP = 0 // every socket comes from 127.0.0.1
	cfg.LLM.OpenAI.BaseURL = fakeURL
	cfg.LLM.ConcurrentPerUser, cfg.LLM.ConcurrentPerRoom, cfg.LLM.RepliesPerMinute = 100000, 1000, 1000000
	cfg.LLM.ReplyTimeout = 10 * time.Minute
	srv, err := server.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	tuner := gctune.Start(uint64(cfg.GCMinHeapMiB) << 20) // as cmd/vcd does
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		tuner.Stop()
		_ = os.RemoveAll(dir)
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// aiRoomSetup registers users, stores the asker's key, creates a role and
// rooms with every user as a member and the role seated.
type aiSetup struct {
	users []benchUser
	role  api.Role
	rooms []api.Room
}

func setupAI(ctx context.Context, serverURL string, users, rooms int) (*aiSetup, error) {
	b, err := setupRoom(ctx, serverURL, users)
	if err != nil {
		return nil, err
	}
	s := &aiSetup{users: b.users, rooms: []api.Room{b.room}}
	asker := b.users[0].client
	if _, err := asker.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-bench-key"}); err != nil {
		return nil, fmt.Errorf("add key: %w", err)
	}
	s.role, err = asker.CreateRole(ctx, api.CreateRoleRequest{Name: "Bench", Handle: "bench", AIInstructions: "You answer benchmarks.", Model: "openai/gpt-4o-mini"})
	if err != nil {
		return nil, fmt.Errorf("create role: %w", err)
	}
	for len(s.rooms) < rooms {
		r, err := asker.CreateRoom(ctx, fmt.Sprintf("ai-bench-%d", len(s.rooms)))
		if err != nil {
			return nil, fmt.Errorf("create room: %w", err)
		}
		for _, u := range b.users[1:] {
			if _, err := asker.AddMember(ctx, r.ID, u.name); err != nil {
				return nil, fmt.Errorf("add member: %w", err)
			}
		}
		s.rooms = append(s.rooms, r)
	}
	for _, r := range s.rooms {
		if _, err := asker.SeatRole(ctx, r.ID, s.role.ID); err != nil {
			return nil, fmt.Errorf("seat role: %w", err)
		}
	}
	return s, nil
}

func dialRoom(ctx context.Context, serverURL string, c *client.Client, roomID int64) (*websocket.Conn, error) {
	b := &benchRoom{server: serverURL, users: []benchUser{{client: c}}, room: api.Room{ID: roomID}}
	return b.dial(ctx, 0, nil)
}

// benchEvent is the part of a chat event the bench reads.
type benchEvent struct {
	Type        string `json:"type"`
	StreamID    string `json:"stream_id"`
	Delta       string `json:"delta"`
	Content     string `json:"content"`
	MessageType string `json:"message_type"`
	Detail      string `json:"detail"`
}

func readEvent(ctx context.Context, conn *websocket.Conn) (benchEvent, error) {
	_, b, err := conn.Read(ctx)
	if err != nil {
		return benchEvent{}, err
	}
	var ev benchEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return benchEvent{}, fmt.Errorf("decode event: %w", err)
	}
	return ev, nil
}

func summary(name string, ds []time.Duration) string {
	sortDurations(ds)
	return fmt.Sprintf("%-34s p50 %8s  p99 %8s  (n=%d)", name, us(percentile(ds, 50)), us(percentile(ds, 99)), len(ds))
}

// aiTTFT measures the time to the first token: straight from the fake with
// the same SDK vcd uses, through POST /api/llm/generate with stream, and
// through a room (POST a message naming the role -> first ai_delta on a
// member's socket). Each path is timed twice: when the client's goroutine
// has the token, and (Linux) when its bytes reached the client's socket
// (the kernel's receive time): on two shared cores the client's own wait
// for a CPU is a large part of the first figure and none of vcd's doing.
func aiTTFT(ctx context.Context, f aiFlags, fake *aitest.Server, out io.Writer) error {
	fake.SetHandler(nil)
	fake.SetDefault(aitest.Response{TokenCount: 3})
	s, err := setupAI(ctx, f.server, 1, 1)
	if err != nil {
		return err
	}
	asker := s.users[0].client
	room := s.rooms[0]
	member, err := (&benchRoom{server: f.server, users: s.users[:1], room: room}).dialRaw(ctx, 0)
	if err != nil {
		return err
	}
	defer member.close()
	member.exact = true
	if _, err := member.next(); err != nil { // presence
		return err
	}
	var lastRead atomic.Int64 // kernel receive time of the direct client's newest read
	p := aiopenai.New(aiopenai.Config{BaseURL: fake.URL, MaxRetries: -1, HTTPClient: stampedHTTPClient(&lastRead)})
	req := ai.ChatRequest{Model: "gpt-4o-mini", System: "You answer benchmarks.", Messages: []ai.ChatMessage{{Role: ai.TurnUser, Content: "bench: go"}}, MaxTokens: 1024}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// direct calls the fake with the SDK vcd uses: the time to the first
	// token in the caller, and to the caller's socket (0: unknown).
	direct := func(req ai.ChatRequest) (time.Duration, time.Duration, error) {
		t0 := time.Now()
		var first, firstSock time.Duration
		_, err := p.StreamChat(rctx, ai.Credentials{APIKey: "sk-bench-key"}, req, func(string) error {
			if first == 0 {
				first = time.Since(t0)
				if at := lastRead.Load(); at != 0 {
					firstSock = time.Unix(0, at).Sub(t0)
				}
			}
			return nil
		})
		if err != nil {
			return 0, 0, fmt.Errorf("direct call: %w", err)
		}
		return first, firstSock, nil
	}
	generate := func() (time.Duration, error) {
		t0 := time.Now()
		var first time.Duration
		err := asker.GenerateStream(rctx, api.GenerateRequest{Prompt: "bench: go", Model: "openai/gpt-4o-mini", System: "You answer benchmarks."}, func(ch api.GenerateChunk) error {
			if first == 0 && ch.Delta != "" {
				first = time.Since(t0)
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("generate: %w", err)
		}
		return first, nil
	}
	// next reads the member's next event, with the time it was read and
	// when its bytes reached the socket (zero when unknown).
	next := func() (benchEvent, time.Time, time.Time, error) {
		data, err := member.next()
		if err != nil {
			return benchEvent{}, time.Time{}, time.Time{}, err
		}
		now := time.Now()
		var ev benchEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return benchEvent{}, now, time.Time{}, fmt.Errorf("decode event: %w", err)
		}
		at, _ := member.receivedAt()
		return ev, now, at, nil
	}
	// plain posts a message naming no role: what storing and fanning out
	// a message costs, AI or not (to the member's own message event).
	plain := func(i int) (time.Duration, time.Duration, error) {
		t0 := time.Now()
		if _, err := asker.SendMessage(rctx, room.ID, api.CreateMessageRequest{Content: "plain " + strconv.Itoa(i)}); err != nil {
			return 0, 0, err
		}
		for {
			ev, readAt, sockAt, err := next()
			if err != nil {
				return 0, 0, err
			}
			if ev.Type == wsproto.TypeMessage && strings.HasPrefix(ev.Content, "plain ") {
				var sock time.Duration
				if !sockAt.IsZero() {
					sock = sockAt.Sub(t0)
				}
				return readAt.Sub(t0), sock, nil
			}
		}
	}
	// reply posts a message naming the role: the time to its first
	// ai_delta on the member's socket.
	reply := func() (time.Duration, time.Duration, error) {
		t0 := time.Now()
		if _, err := asker.SendMessage(rctx, room.ID, api.CreateMessageRequest{Content: "bench: go", RoleID: &s.role.ID}); err != nil {
			return 0, 0, err
		}
		var first, firstSock time.Duration
		for {
			ev, readAt, sockAt, err := next()
			if err != nil {
				return 0, 0, err
			}
			if ev.Type == wsproto.TypeAIDelta && first == 0 {
				first = readAt.Sub(t0)
				if !sockAt.IsZero() {
					firstSock = sockAt.Sub(t0)
				}
			}
			if ev.Type == wsproto.TypeAIError {
				return 0, 0, fmt.Errorf("reply failed: %s", ev.Detail)
			}
			if ev.Type == wsproto.TypeAIDone {
				return first, firstSock, nil
			}
		}
	}
	// Warm up every path; the last reply's request is the room's: the room
	// sends the provider a bigger prompt (the preamble and up to
	// llm.history_messages of history), and the same call made directly is
	// the fair baseline of what vcd adds in a room.
	const warm = 20
	for i := range warm {
		if _, _, err := direct(req); err != nil {
			return err
		}
		if _, err := generate(); err != nil {
			return err
		}
		if _, _, err := plain(i); err != nil {
			return err
		}
		if _, _, err := reply(); err != nil {
			return err
		}
	}
	got := fake.Received()
	last := got[len(got)-1]
	roomReq := ai.ChatRequest{Model: last.Model, System: last.System, MaxTokens: last.MaxTokens, Temperature: last.Temperature}
	for _, m := range last.Messages {
		roomReq.Messages = append(roomReq.Messages, ai.ChatMessage{Role: m.Role, Content: m.Content})
	}
	// The paths take turns, sample by sample, so that each baseline is
	// measured in the same moments (the machine is shared) as what it is
	// compared with.
	var directT, directSock, directRoom, directRoomSock, gen, roomT, roomSock, msgT, msgSock []time.Duration
	keep := func(dst *[]time.Duration, d time.Duration) {
		if d > 0 {
			*dst = append(*dst, d)
		}
	}
	for i := range f.samples {
		d, ds, err := direct(req)
		if err != nil {
			return err
		}
		keep(&directT, d)
		keep(&directSock, ds)
		if d, ds, err = direct(roomReq); err != nil {
			return err
		}
		keep(&directRoom, d)
		keep(&directRoomSock, ds)
		if d, err = generate(); err != nil {
			return err
		}
		keep(&gen, d)
		if d, ds, err = plain(warm + i); err != nil {
			return err
		}
		keep(&msgT, d)
		keep(&msgSock, ds)
		if d, ds, err = reply(); err != nil {
			return err
		}
		keep(&roomT, d)
		keep(&roomSock, ds)
	}
	fmt.Fprintln(out, "\ntime to first token (fake provider answers at once, 3 tokens):")
	fmt.Fprintln(out, summary("direct (openai-go -> fake)", directT))
	fmt.Fprintln(out, summary(fmt.Sprintf("direct, room's request (%d msgs)", len(roomReq.Messages)), directRoom))
	fmt.Fprintln(out, summary("vcd POST /api/llm/generate stream", gen))
	fmt.Fprintln(out, summary("vcd room: POST message -> ai_delta", roomT))
	fmt.Fprintln(out, summary("vcd room: POST message -> message", msgT))
	added := func(name string, via, direct []time.Duration, note string) {
		fmt.Fprintf(out, "added by vcd, %-7s p50 %s  p99 %s  %s\n", name+":", us(percentile(via, 50)-percentile(direct, 50)),
			us(percentile(via, 99)-percentile(direct, 99)), note)
	}
	added("generate", gen, directT, "")
	added("room", roomT, directT, "(vs the 1-message direct call)")
	added("room", roomT, directRoom, "(vs the same request made directly)")
	if len(roomSock) > 0 && len(directSock) > 0 {
		fmt.Fprintln(out, "\nthe same, to the clients' sockets (kernel receive time; leaves out the clients' own wait for a CPU):")
		fmt.Fprintln(out, summary("direct (openai-go -> fake)", directSock))
		fmt.Fprintln(out, summary("direct, room's request", directRoomSock))
		fmt.Fprintln(out, summary("vcd room: POST message -> ai_delta", roomSock))
		fmt.Fprintln(out, summary("vcd room: POST message -> message", msgSock))
		added("room", roomSock, directSock, "(vs the 1-message direct call)")
		added("room", roomSock, directRoomSock, "(vs the same request made directly)")
	}
	return nil
}

// stampedHTTPClient is an HTTP client whose connections record, in last,
// the kernel receive time (Unix ns) of their newest read (Linux; elsewhere
// last stays 0).
func stampedHTTPClient(last *atomic.Int64) *http.Client {
	t := ai.NewHTTPClient().Transport.(*http.Transport)
	dial := (&net.Dialer{}).DialContext
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		sr := newStampReader(conn)
		if sr == nil {
			return conn, nil
		}
		return &stampedConn{Conn: conn, sr: sr, last: last}, nil
	}
	return &http.Client{Transport: t}
}

// stampedConn reads through a stampReader and publishes its receive times.
type stampedConn struct {
	net.Conn
	sr   *stampReader
	last *atomic.Int64
}

func (c *stampedConn) Read(p []byte) (int, error) {
	n, err := c.sr.Read(p)
	if !c.sr.last.IsZero() {
		c.last.Store(c.sr.last.UnixNano())
	}
	return n, err
}

// watcherResult is what one member's socket saw of its room's reply.
type watcherResult struct {
	deltas    int
	lost      int
	reordered int
	text      strings.Builder
	message   string
	done      bool
	err       error
	dropped   bool
}

// aiLoad runs f.replies replies at once, one per room, each watched by
// f.watchers sockets, and checks every socket saw every delta in order.
func aiLoad(ctx context.Context, f aiFlags, fake *aitest.Server, out io.Writer) error {
	interval := time.Duration(float64(time.Second) / f.tokenRate)
	fake.SetDefault(aitest.Response{TokenCount: f.tokens, TokenDelay: interval})
	fmt.Fprintf(out, "\nconcurrent replies: setting up %d rooms x %d members...\n", f.replies, f.watchers)
	s, err := setupAI(ctx, f.server, f.watchers, f.replies)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, time.Duration(float64(f.tokens)/f.tokenRate*float64(time.Second))*4+2*time.Minute)
	defer cancel()
	results := make([][]*watcherResult, len(s.rooms))
	var wg sync.WaitGroup
	var open atomic.Int64
	conns := make([]*websocket.Conn, 0, len(s.rooms)*f.watchers)
	for ri, room := range s.rooms {
		results[ri] = make([]*watcherResult, f.watchers)
		for wi := range f.watchers {
			conn, err := dialRoom(ctx, f.server, s.users[wi].client, room.ID)
			if err != nil {
				return err
			}
			conns = append(conns, conn)
			// The socket gets live events from its presence frame on: a
			// reply started before it would be missed by design (deltas
			// are not replayed), which is no loss of vcd's.
			if _, _, err := conn.Read(ctx); err != nil {
				return fmt.Errorf("presence: %w", err)
			}
			res := &watcherResult{}
			results[ri][wi] = res
			open.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer open.Add(-1)
				watchReply(lctx, conn, res)
			}()
		}
	}
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	fmt.Fprintf(out, "%d sockets open; %d replies of %d tokens at %.0f tokens/s each...\n", len(conns), f.replies, f.tokens, f.tokenRate)
	asker := s.users[0].client
	cpu0 := cpuTime()
	var vcd *vcdCPU
	if !f.inProcess {
		vcd = startCPU(0, f.server)
	}
	t0 := time.Now()
	var sendWG sync.WaitGroup
	sendErr := make(chan error, len(s.rooms))
	for _, room := range s.rooms {
		sendWG.Add(1)
		go func() {
			defer sendWG.Done()
			if _, err := asker.SendMessage(lctx, room.ID, api.CreateMessageRequest{Content: "bench: go", RoleID: &s.role.ID}); err != nil {
				sendErr <- err
			}
		}()
	}
	sendWG.Wait()
	close(sendErr)
	for err := range sendErr {
		return fmt.Errorf("send: %w", err)
	}
	wg.Wait()
	elapsed := time.Since(t0)
	cpu := cpuTime() - cpu0
	var deltas, lost, reordered, mismatched, incomplete, dropped int
	for _, rs := range results {
		for _, r := range rs {
			deltas += r.deltas
			lost += r.lost
			reordered += r.reordered
			if r.dropped {
				dropped++
			}
			if !r.done {
				incomplete++
				continue
			}
			if r.text.String() != r.message {
				mismatched++
			}
		}
	}
	want := f.replies * f.watchers * f.tokens
	fmt.Fprintf(out, "elapsed %s (ideal %s); deltas delivered %d of %d (%.0f/s)\n", elapsed.Round(time.Millisecond),
		(time.Duration(f.tokens-1) * interval).Round(time.Millisecond), deltas, want, float64(deltas)/elapsed.Seconds())
	fmt.Fprintf(out, "lost %d, reordered %d, stored message != deltas %d, sockets without ai_done %d, sockets dropped %d\n",
		lost, reordered, mismatched, incomplete, dropped)
	what := "vcbench process (bench clients + fake provider)"
	if f.inProcess {
		what = "process (vcd in-process + bench clients + fake provider)"
	}
	fmt.Fprintf(out, "%s CPU: %s = %.0f%% of one core\n", what, cpu.Round(time.Millisecond), 100*cpu.Seconds()/elapsed.Seconds())
	vcd.report(out, int64(deltas), "delta delivered to a socket")
	if lost > 0 || reordered > 0 || mismatched > 0 || incomplete > 0 {
		return errors.New("deltas were lost or reordered")
	}
	return nil
}

// watchReply reads one socket until its room's reply is done, checking that
// the fake's tokens "t0 ", "t1 ", ... arrive gap-free and in order.
func watchReply(ctx context.Context, conn *websocket.Conn, r *watcherResult) {
	next := 0
	for {
		ev, err := readEvent(ctx, conn)
		if err != nil {
			r.err = err
			var ce websocket.CloseError
			r.dropped = errors.As(err, &ce)
			return
		}
		switch ev.Type {
		case wsproto.TypeAIDelta:
			r.deltas++
			r.text.WriteString(ev.Delta)
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(ev.Delta, "t"), " "))
			switch {
			case err != nil || n < next:
				r.reordered++
			case n > next:
				r.lost += n - next
				next = n + 1
			default:
				next++
			}
		case wsproto.TypeMessage:
			if ev.MessageType == api.MessageAIResponse {
				r.message = ev.Content
			}
		case wsproto.TypeAIDone:
			r.done = true
			return
		case wsproto.TypeAIError:
			r.err = errors.New(ev.Detail)
			return
		}
	}
}
