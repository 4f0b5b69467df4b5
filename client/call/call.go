// Package call is vc's voice call engine: it joins a room's call through the
// vcd signaling socket and holds one Pion peer connection per other
// participant (a mesh), negotiated with the "perfect negotiation" pattern and
// trickle ICE. Audio is Opus at 48 kHz in 20 ms frames (gopus, pure Go): the
// input source is encoded once and sent to every peer; each peer's packets go
// through a jitter buffer with packet-loss concealment and are mixed into the
// output sink.
//
// A Call is driven by its own goroutines; callers read its Events channel and
// query Participants and Stats. Nothing in it blocks on a slow reader.
package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/client/call/audio"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// frameDuration is the length of one Opus frame.
const frameDuration = 20 * time.Millisecond

// Config configures a call. The zero value joins muted-less with silence as
// input and no output.
type Config struct {
	// Input is what this participant says (nil: silence). Output receives
	// the mix of everyone else (nil: discarded). The call closes neither;
	// the caller owns them.
	Input  audio.Source
	Output audio.Sink
	// Muted starts the call muted.
	Muted bool
	// ICEServers overrides the servers from GET /api/rtc/config (nil: ask
	// the daemon).
	ICEServers []webrtc.ICEServer
	// JitterFrames is how many 20 ms packets a peer's jitter buffer holds
	// before playing (default 2, i.e. 40 ms).
	JitterFrames int
	// SettingEngine tunes Pion (tests restrict ICE to UDP4 on loopback).
	SettingEngine *webrtc.SettingEngine
	// Interceptors adds RTP interceptors after Pion's defaults (tests add a
	// lossy one).
	Interceptors func(*interceptor.Registry) error
	// Logger receives diagnostics (default: discarded).
	Logger *slog.Logger
}

// EventType says what happened in a call.
type EventType string

// Event types.
const (
	EventJoined       EventType = "joined"        // we are in the call; Peer is us
	EventPeerJoined   EventType = "peer_joined"   // someone joined
	EventPeerLeft     EventType = "peer_left"     // someone left (or their connection failed for good)
	EventPeerState    EventType = "peer_state"    // a peer's connection state or mute changed
	EventAudioStarted EventType = "audio_started" // the first audio from a peer was played
	EventInputEnded   EventType = "input_ended"   // the input source is exhausted (a WAV file ended)
	EventError        EventType = "error"         // something went wrong; the call goes on
	EventClosed       EventType = "closed"        // the call ended; Err says why when it was not a hang-up
)

// Event is one thing that happened in a call.
type Event struct {
	Type EventType
	At   time.Time
	Peer Participant
	Err  error
}

// Participant is one person in the call as this engine sees them.
type Participant struct {
	PeerID string
	User   string
	UserID int64
	// State is the peer connection state: "new", "connecting",
	// "connected", "disconnected", "failed" or "closed".
	State string
	// Muted is what the peer last announced.
	Muted bool
	// Speaking is true while the peer's audio is above a speech threshold
	// (held for 300 ms).
	Speaking bool
	// Level is the RMS of the peer's last played frame (0..1).
	Level float64
	Link  LinkStats
}

// LinkStats are the live statistics of the audio from one peer.
type LinkStats struct {
	RTT             time.Duration `json:"rtt_ns"`
	PacketsReceived int64         `json:"packets_received"`
	PacketsLost     int64         `json:"packets_lost"`
	// Loss is PacketsLost over packets expected (0..1).
	Loss float64 `json:"loss"`
	// Jitter is the RFC 3550 interarrival jitter.
	Jitter time.Duration `json:"jitter_ns"`
	// Concealed counts the 20 ms frames filled by packet-loss concealment.
	Concealed int64 `json:"concealed"`
}

// Call is one participation in a room's voice call.
type Call struct {
	cfg    Config
	log    *slog.Logger
	roomID int64
	selfID string
	self   wsproto.CallPeer
	api    *webrtc.API
	ice    []webrtc.ICEServer
	track  *webrtc.TrackLocalStaticSample
	sig    *signaler

	ctx    context.Context
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	muted     atomic.Bool
	selfLevel atomic.Uint64 // float64 bits
	joinedAt  time.Time

	mu    sync.Mutex
	peers map[string]*remote

	evMu      sync.Mutex // guards sending on and closing events
	evClosed  bool
	events    chan Event
	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
}

// Join joins the voice call of roomID as the user of c's token and returns
// once the daemon welcomed us. ctx bounds joining only; the call runs until
// Hangup or a lost signaling connection.
func Join(ctx context.Context, c *client.Client, roomID int64, cfg Config) (*Call, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Input == nil {
		cfg.Input = audio.Silence{}
	}
	if cfg.Output == nil {
		cfg.Output = audio.Discard{}
	}
	if cfg.JitterFrames <= 0 {
		cfg.JitterFrames = 2
	}
	ice := cfg.ICEServers
	if ice == nil {
		rc, err := c.RTCConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("get ICE servers: %w", err)
		}
		for _, s := range rc.ICEServers {
			ice = append(ice, webrtc.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
		}
	}
	api, err := newAPI(cfg)
	if err != nil {
		return nil, err
	}
	track, err := webrtc.NewTrackLocalStaticSample(
		webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		"audio", "vc")
	if err != nil {
		return nil, fmt.Errorf("create audio track: %w", err)
	}
	sig, welcome, err := dialSignaling(ctx, c, roomID)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancelCause(context.Background())
	k := &Call{
		cfg: cfg, log: cfg.Logger.With("component", "call", "room_id", roomID, "peer_id", welcome.PeerID),
		roomID: roomID, selfID: welcome.PeerID,
		self: wsproto.CallPeer{PeerID: welcome.PeerID, UserID: welcome.UserID, Username: welcome.User},
		api:  api, ice: ice, track: track, sig: sig,
		ctx: cctx, cancel: cancel, joinedAt: time.Now(),
		peers: map[string]*remote{}, events: make(chan Event, 256), done: make(chan struct{}),
	}
	k.muted.Store(cfg.Muted)
	k.emit(Event{Type: EventJoined, Peer: Participant{PeerID: k.selfID, User: k.self.Username, UserID: k.self.UserID, State: "connected", Muted: cfg.Muted}})

	k.wg.Add(5)
	go func() { defer k.wg.Done(); k.pollRTT() }()
	go func() { defer k.wg.Done(); sig.writeLoop(cctx) }()
	go func() { defer k.wg.Done(); k.readSignaling() }()
	go func() { defer k.wg.Done(); k.sendLoop() }()
	go func() { defer k.wg.Done(); k.playLoop() }()

	if cfg.Muted {
		k.announceState()
	}
	// The newcomer offers to everyone already there; they answer.
	for _, p := range welcome.Peers {
		if _, err := k.addRemote(p, true); err != nil {
			k.emitErr(fmt.Errorf("connect to %s: %w", p.Username, err))
		}
	}
	return k, nil
}

func newAPI(cfg Config) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register opus: %w", err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, fmt.Errorf("register interceptors: %w", err)
	}
	if cfg.Interceptors != nil {
		if err := cfg.Interceptors(reg); err != nil {
			return nil, fmt.Errorf("register extra interceptors: %w", err)
		}
	}
	opts := []func(*webrtc.API){webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg)}
	if cfg.SettingEngine != nil {
		opts = append(opts, webrtc.WithSettingEngine(*cfg.SettingEngine))
	}
	return webrtc.NewAPI(opts...), nil
}

// LoopbackSettings returns a SettingEngine for calls on one machine: UDP4
// host candidates on 127.0.0.1 only, no mDNS. Tests and vcbench use it.
func LoopbackSettings() *webrtc.SettingEngine {
	se := &webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() && ip.To4() != nil })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return se
}

// PeerID returns our own peer id in the call.
func (k *Call) PeerID() string { return k.selfID }

// Events returns the call's events. It is closed after EventClosed. Events
// are dropped, never waited for, when nobody reads.
func (k *Call) Events() <-chan Event { return k.events }

// Done is closed when the call has ended.
func (k *Call) Done() <-chan struct{} { return k.done }

// Err returns why the call ended (nil for a hang-up); valid after Done.
func (k *Call) Err() error { return k.closeErr }

// Muted reports whether our microphone is muted.
func (k *Call) Muted() bool { return k.muted.Load() }

// SetMuted mutes or unmutes us and tells the others.
func (k *Call) SetMuted(m bool) {
	if k.muted.Swap(m) != m {
		k.announceState()
	}
}

// ToggleMute flips mute and returns the new state.
func (k *Call) ToggleMute() bool {
	m := !k.muted.Load()
	k.SetMuted(m)
	return m
}

// Participants returns everyone in the call, us first, then in join order.
func (k *Call) Participants() []Participant {
	self := Participant{
		PeerID: k.selfID, User: k.self.Username, UserID: k.self.UserID, State: "connected",
		Muted: k.muted.Load(), Level: levelOf(&k.selfLevel),
	}
	self.Speaking = !self.Muted && self.Level > speakingLevel
	out := []Participant{self}
	k.mu.Lock()
	rs := make([]*remote, 0, len(k.peers))
	for _, r := range k.peers {
		rs = append(rs, r)
	}
	k.mu.Unlock()
	slices.SortFunc(rs, func(a, b *remote) int { return a.joinedAt.Compare(b.joinedAt) })
	for _, r := range rs {
		out = append(out, r.participant())
	}
	return out
}

// Hangup leaves the call: the peer connections and the signaling socket are
// closed and the goroutines stopped. It is safe to call more than once.
func (k *Call) Hangup() error {
	k.shutdown(nil)
	return nil
}

// shutdown ends the call with cause (nil for a hang-up).
func (k *Call) shutdown(cause error) {
	k.closeOnce.Do(func() {
		k.closeErr = cause
		k.cancel(cause)
		k.sig.close()
		k.mu.Lock()
		peers := k.peers
		k.peers = map[string]*remote{}
		k.mu.Unlock()
		for _, r := range peers {
			r.close()
		}
		k.wg.Wait()
		k.emit(Event{Type: EventClosed, Err: cause})
		k.evMu.Lock()
		k.evClosed = true
		close(k.events)
		k.evMu.Unlock()
		close(k.done)
	})
}

func (k *Call) emit(ev Event) {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	// Pion runs callbacks on its own goroutines, possibly after the call
	// ended: never send on the closed channel.
	k.evMu.Lock()
	defer k.evMu.Unlock()
	if k.evClosed {
		return
	}
	select {
	case k.events <- ev:
	default:
		k.log.Debug("call event dropped", "type", string(ev.Type))
	}
}

func (k *Call) emitErr(err error) {
	k.log.Warn("call error", "err", err)
	k.emit(Event{Type: EventError, Err: err})
}

// signalingURL is ws(s)://host/ws/signaling/{room}.
func signalingURL(c *client.Client, roomID int64) string {
	u := c.BaseURL()
	u = "ws" + strings.TrimPrefix(u, "http")
	return u + "/ws/signaling/" + strconv.FormatInt(roomID, 10)
}

// dialSignaling connects and waits for the welcome.
func dialSignaling(ctx context.Context, c *client.Client, roomID int64) (*signaler, wsproto.Signal, error) {
	h := http.Header{}
	if t := c.Token(); t != "" {
		h.Set("Authorization", "Bearer "+t)
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, signalingURL(c, roomID), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, wsproto.Signal{}, fmt.Errorf("connect to the call of room %d: %w", roomID, err)
	}
	conn.SetReadLimit(1 << 20)
	s := newSignaler(conn)
	msg, err := s.read(dctx)
	if err != nil {
		_ = conn.CloseNow()
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return nil, wsproto.Signal{}, &RefusedError{Code: int(ce.Code), Reason: ce.Reason}
		}
		return nil, wsproto.Signal{}, fmt.Errorf("join the call of room %d: %w", roomID, err)
	}
	if msg.Type != wsproto.SignalWelcome || msg.PeerID == "" {
		_ = conn.CloseNow()
		return nil, wsproto.Signal{}, fmt.Errorf("join the call of room %d: expected a welcome, got %q", roomID, msg.Type)
	}
	return s, msg, nil
}

// RefusedError is the daemon closing the signaling socket on join: 1008 for
// a bad token, unknown room or non-member, 1013 for a full call.
type RefusedError struct {
	Code   int
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the daemon refused the call (%d): %s", e.Code, e.Reason)
}

// readSignaling dispatches the daemon's messages until the socket ends.
func (k *Call) readSignaling() {
	for {
		msg, err := k.sig.read(k.ctx)
		if err != nil {
			if k.ctx.Err() == nil {
				go k.shutdown(fmt.Errorf("signaling connection lost: %w", err))
			}
			return
		}
		k.handleSignal(msg)
	}
}

func (k *Call) handleSignal(msg wsproto.Signal) {
	switch msg.Type {
	case wsproto.SignalPeerJoined:
		// They will offer to us; be ready and show them now.
		if _, err := k.addRemote(wsproto.CallPeer{PeerID: msg.PeerID, UserID: msg.UserID, Username: msg.User}, false); err != nil {
			k.emitErr(fmt.Errorf("prepare connection to %s: %w", msg.User, err))
		}
		k.announceStateTo(msg.PeerID)
	case wsproto.SignalPeerLeft:
		k.mu.Lock()
		r := k.peers[msg.PeerID]
		delete(k.peers, msg.PeerID)
		k.mu.Unlock()
		if r != nil {
			p := r.participant()
			r.close()
			p.State = "closed"
			k.emit(Event{Type: EventPeerLeft, Peer: p})
		}
	case wsproto.SignalError:
		k.emitErr(fmt.Errorf("signaling: %s", msg.Detail))
	case wsproto.SignalOffer, wsproto.SignalAnswer, wsproto.SignalICECandidate, wsproto.SignalState, wsproto.SignalNegotiate:
		if msg.From == "" || msg.From == k.selfID {
			return
		}
		if msg.To != "" && msg.To != k.selfID {
			return
		}
		r := k.remote(msg.From)
		if r == nil && msg.Type == wsproto.SignalOffer {
			var err error
			r, err = k.addRemote(wsproto.CallPeer{PeerID: msg.From, UserID: msg.UserID, Username: msg.User}, false)
			if err != nil {
				k.emitErr(fmt.Errorf("answer %s: %w", msg.User, err))
				return
			}
		}
		if r == nil {
			return
		}
		if err := r.handle(msg); err != nil {
			k.emitErr(fmt.Errorf("%s from %s: %w", msg.Type, r.user, err))
		}
	}
}

func (k *Call) remote(id string) *remote {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.peers[id]
}

// announceState tells everyone our mute state.
func (k *Call) announceState() { k.announceStateTo("") }

func (k *Call) announceStateTo(to string) {
	data := []byte(`{"muted":false}`)
	if k.muted.Load() {
		data = []byte(`{"muted":true}`)
	}
	k.sig.send(wsproto.Signal{Type: wsproto.SignalState, To: to, Data: data})
}

// speakingLevel is the RMS above which a participant counts as speaking.
const speakingLevel = 0.02
