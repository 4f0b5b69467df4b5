package call

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/thesyncim/gopus"

	"github.com/virtual-company/vc/pkg/wsproto"
)

// remote is another participant and our peer connection to them.
type remote struct {
	k        *Call
	id       string
	user     string
	userID   int64
	polite   bool
	joinedAt time.Time
	pc       *webrtc.PeerConnection

	// neg serialises negotiation: offers, answers, candidates, rollbacks.
	neg         sync.Mutex
	makingOffer bool
	ignoreOffer bool
	renegotiate bool // negotiation was needed while not stable
	// The offer-turn protocol (see negotiate): the polite side asks the
	// impolite one before offering, so two Pion peers never both hold a
	// local offer (Pion cannot roll one back).
	mayOffer   bool                      // polite: the turn was granted
	askedTurn  bool                      // polite: a request is outstanding
	granted    time.Time                 // impolite: when we granted the turn (zero: none outstanding)
	turnWanted bool                      // impolite: a request arrived while we were busy
	pending    []webrtc.ICECandidateInit // candidates before the remote description

	jb  *jitterBuffer
	dec *gopus.Decoder // used only by the play loop
	pcm []float32

	state        atomic.Value // string
	muted        atomic.Bool
	level        atomic.Uint64 // float64 bits
	speakingTill atomic.Int64  // unix nanos
	audioStarted atomic.Bool
	closed       atomic.Bool
	offers       atomic.Int64

	stats statsState
}

// addRemote creates the peer connection to p. The newcomer (offer=true)
// adds its track and lets negotiationneeded send the offer; the others wait
// for that offer and attach their track when answering.
func (k *Call) addRemote(p wsproto.CallPeer, offer bool) (*remote, error) {
	k.mu.Lock()
	if r := k.peers[p.PeerID]; r != nil {
		k.mu.Unlock()
		return r, nil
	}
	if k.ctx.Err() != nil {
		k.mu.Unlock()
		return nil, errors.New("call ended")
	}
	pc, err := k.api.NewPeerConnection(webrtc.Configuration{ICEServers: k.ice})
	if err != nil {
		k.mu.Unlock()
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	dec, err := NewOpusDecoder()
	if err != nil {
		k.mu.Unlock()
		_ = pc.Close()
		return nil, err
	}
	r := &remote{
		k: k, id: p.PeerID, user: p.Username, userID: p.UserID, pc: pc,
		// Perfect negotiation needs one polite side per pair; ids decide.
		polite:   k.selfID < p.PeerID,
		joinedAt: time.Now(),
		jb:       newJitterBuffer(k.cfg.JitterFrames, k.cfg.JitterFrames+8),
		dec:      dec, pcm: make([]float32, 5760),
	}
	r.state.Store("new")
	k.peers[p.PeerID] = r
	k.mu.Unlock()

	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		_ = k.sig.sendJSON(wsproto.SignalICECandidate, r.id, wsproto.ICECandidate{
			Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex, UsernameFragment: init.UsernameFragment,
		})
	})
	pc.OnNegotiationNeeded(r.negotiate)
	pc.OnConnectionStateChange(r.onState)
	pc.OnTrack(r.onTrack)
	k.emit(Event{Type: EventPeerJoined, Peer: r.participant()})

	if offer {
		if err := r.attachTrack(); err != nil {
			return r, err
		}
	}
	return r, nil
}

// attachTrack sends our audio to this peer (once).
func (r *remote) attachTrack() error {
	for _, s := range r.pc.GetSenders() {
		if s.Track() != nil {
			return nil
		}
	}
	sender, err := r.pc.AddTrack(r.k.track)
	if err != nil {
		return fmt.Errorf("add audio track: %w", err)
	}
	// Read RTCP so the interceptors (reports, NACK) see it.
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	return nil
}

// negotiate is the perfect-negotiation offerer: it runs on
// negotiationneeded and sends an offer unless one is under way.
//
// Perfect negotiation resolves simultaneous offers by having the polite side
// roll its offer back, which Pion (v4.2) cannot do. So, between two
// engines, the polite side first asks for the turn to offer (a "negotiate"
// signal) and the impolite side grants it only while it is stable and then
// holds its own offers until the polite offer arrived. The newcomer's first
// offer needs no turn: the others never offer first.
func (r *remote) negotiate() {
	r.neg.Lock()
	defer r.neg.Unlock()
	if r.closed.Load() {
		return
	}
	if r.pc.SignalingState() != webrtc.SignalingStateStable {
		// Mid-negotiation: offer once we are back to stable.
		r.renegotiate = true
		return
	}
	first := r.pc.RemoteDescription() == nil
	switch {
	case first:
	case r.polite && !r.mayOffer:
		r.renegotiate = true
		if !r.askedTurn {
			r.askedTurn = true
			_ = r.k.sig.sendJSON(wsproto.SignalNegotiate, r.id, map[string]bool{"request": true})
		}
		return
	case !r.polite && !r.granted.IsZero() && time.Since(r.granted) < grantTimeout:
		r.renegotiate = true // the polite side has the turn
		return
	}
	r.k.log.Debug("offering", "to", r.id, "polite", r.polite, "first", first)
	r.renegotiate, r.mayOffer = false, false
	r.granted = time.Time{}
	r.makingOffer = true
	defer func() { r.makingOffer = false }()
	if err := r.offer(webrtc.OfferOptions{}); err != nil && !r.closed.Load() {
		r.k.emitErr(fmt.Errorf("offer to %s: %w", r.user, err))
	}
}

// grantTimeout bounds how long the impolite side holds its offers for a
// granted turn that was not used.
const grantTimeout = 5 * time.Second

// onTurn handles a negotiate signal.
func (r *remote) onTurn(data json.RawMessage) {
	var m struct {
		Request bool `json:"request"`
		Grant   bool `json:"grant"`
	}
	if json.Unmarshal(data, &m) != nil {
		return
	}
	r.neg.Lock()
	r.k.log.Debug("turn", "from", r.id, "request", m.Request, "grant", m.Grant, "state", r.pc.SignalingState().String())
	var offerNow bool
	switch {
	case m.Grant && r.polite:
		r.askedTurn, r.mayOffer = false, true
		offerNow = r.pc.SignalingState() == webrtc.SignalingStateStable
	case m.Request && !r.polite:
		if r.pc.SignalingState() == webrtc.SignalingStateStable && !r.makingOffer && !r.renegotiate {
			r.grantLocked()
		} else {
			r.turnWanted = true
		}
	}
	r.neg.Unlock()
	if offerNow {
		r.negotiate()
	}
}

// grantLocked gives the polite side the turn to offer; r.neg is held.
func (r *remote) grantLocked() {
	r.turnWanted = false
	r.granted = time.Now()
	_ = r.k.sig.sendJSON(wsproto.SignalNegotiate, r.id, map[string]bool{"grant": true})
}

// settled runs when a negotiation step ended (r.neg held): it starts what
// waited for the stable state.
func (r *remote) settled() (offerAgain bool) {
	if r.pc.SignalingState() != webrtc.SignalingStateStable {
		return false
	}
	if r.renegotiate {
		return true
	}
	if r.polite && r.mayOffer {
		return true
	}
	if !r.polite && r.turnWanted {
		r.grantLocked()
	}
	return false
}

func (r *remote) offer(opts webrtc.OfferOptions) error {
	r.offers.Add(1)
	o, err := r.pc.CreateOffer(&opts)
	if err != nil {
		return err
	}
	if err := r.pc.SetLocalDescription(o); err != nil {
		return err
	}
	ld := r.pc.LocalDescription()
	return r.k.sig.sendJSON(wsproto.SignalOffer, r.id, wsproto.SDP{Type: ld.Type.String(), SDP: ld.SDP})
}

// handle applies one signaling message from this peer.
func (r *remote) handle(msg wsproto.Signal) error {
	switch msg.Type {
	case wsproto.SignalState:
		var st struct {
			Muted bool `json:"muted"`
		}
		if json.Unmarshal(msg.Data, &st) == nil && r.muted.Swap(st.Muted) != st.Muted {
			r.k.emit(Event{Type: EventPeerState, Peer: r.participant()})
		}
		return nil
	case wsproto.SignalICECandidate:
		return r.addCandidate(msg.Data)
	case wsproto.SignalNegotiate:
		r.onTurn(msg.Data)
		return nil
	}
	var sdp wsproto.SDP
	if err := json.Unmarshal(msg.Data, &sdp); err != nil {
		return fmt.Errorf("bad session description: %w", err)
	}
	typ := webrtc.NewSDPType(sdp.Type)
	if typ == webrtc.SDPTypeUnknown {
		typ = webrtc.NewSDPType(msg.Type)
	}
	return r.describe(webrtc.SessionDescription{Type: typ, SDP: sdp.SDP})
}

// describe is the perfect-negotiation receiver: on a collision the impolite
// side ignores the other's offer and the polite side rolls back its own.
func (r *remote) describe(desc webrtc.SessionDescription) error {
	r.neg.Lock()
	defer func() {
		again := r.settled()
		r.neg.Unlock()
		if again {
			go r.negotiate()
		}
	}()
	if r.closed.Load() {
		return nil
	}
	if desc.Type == webrtc.SDPTypeOffer && !r.polite {
		r.granted = time.Time{} // the polite side used its turn
	}
	collision := desc.Type == webrtc.SDPTypeOffer &&
		(r.makingOffer || r.pc.SignalingState() != webrtc.SignalingStateStable)
	r.k.log.Debug("description", "from", r.id, "type", desc.Type.String(), "state", r.pc.SignalingState().String(), "collision", collision)
	r.ignoreOffer = !r.polite && collision
	if r.ignoreOffer {
		return nil
	}
	if collision {
		// Pion wants the SDP being rolled back (browsers accept it empty).
		rb := webrtc.SessionDescription{Type: webrtc.SDPTypeRollback}
		if ld := r.pc.PendingLocalDescription(); ld != nil {
			rb.SDP = ld.SDP
		}
		if err := r.pc.SetLocalDescription(rb); err != nil {
			return fmt.Errorf("roll back our offer: %w", err)
		}
	}
	if err := r.pc.SetRemoteDescription(desc); err != nil {
		return fmt.Errorf("apply %s: %w", desc.Type, err)
	}
	for _, c := range r.pending {
		if err := r.pc.AddICECandidate(c); err != nil {
			r.k.log.Debug("queued ICE candidate rejected", "err", err)
		}
	}
	r.pending = nil
	if desc.Type != webrtc.SDPTypeOffer {
		return nil
	}
	if err := r.attachTrack(); err != nil {
		return err
	}
	answer, err := r.pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	if err := r.pc.SetLocalDescription(answer); err != nil {
		return fmt.Errorf("set answer: %w", err)
	}
	ld := r.pc.LocalDescription()
	return r.k.sig.sendJSON(wsproto.SignalAnswer, r.id, wsproto.SDP{Type: ld.Type.String(), SDP: ld.SDP})
}

func (r *remote) addCandidate(data json.RawMessage) error {
	if len(data) == 0 || string(data) == "null" {
		return nil
	}
	var c wsproto.ICECandidate
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("bad ICE candidate: %w", err)
	}
	if c.Candidate == "" {
		return nil // end of candidates
	}
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	r.neg.Lock()
	defer r.neg.Unlock()
	if r.pc.RemoteDescription() == nil {
		if len(r.pending) < 64 {
			r.pending = append(r.pending, init)
		}
		return nil
	}
	if err := r.pc.AddICECandidate(init); err != nil && !r.ignoreOffer {
		return fmt.Errorf("add ICE candidate: %w", err)
	}
	return nil
}

func (r *remote) onState(s webrtc.PeerConnectionState) {
	r.state.Store(s.String())
	if r.closed.Load() {
		return
	}
	r.k.emit(Event{Type: EventPeerState, Peer: r.participant()})
	if s == webrtc.PeerConnectionStateFailed && !r.polite {
		// The impolite side restarts ICE; the polite side waits for it.
		go func() {
			r.neg.Lock()
			defer r.neg.Unlock()
			if r.closed.Load() {
				return
			}
			r.makingOffer = true
			defer func() { r.makingOffer = false }()
			if err := r.offer(webrtc.OfferOptions{ICERestart: true}); err != nil {
				r.k.emitErr(fmt.Errorf("restart ICE with %s: %w", r.user, err))
			}
		}()
	}
}

// onTrack reads the peer's RTP into the jitter buffer.
func (r *remote) onTrack(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	if t.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	for {
		pkt, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		if len(pkt.Payload) == 0 {
			continue
		}
		r.stats.receivedPacket(pkt.SequenceNumber, pkt.Timestamp, time.Now())
		r.jb.push(pkt.SequenceNumber, pkt.Payload)
	}
}

// frame produces this peer's next 20 ms into out (added to the mix) and
// reports whether it played anything.
func (r *remote) frame(mix []float32) bool {
	payload, fec, res := r.jb.pop()
	var n int
	var err error
	switch res {
	case popEmpty:
		r.level.Store(0)
		return false
	case popOK:
		n, err = r.dec.Decode(payload, r.pcm)
	case popLost:
		r.stats.concealed.Add(1)
		if fec != nil {
			n, err = r.dec.DecodeWithFEC(fec, r.pcm, true)
		} else {
			n, err = r.dec.Decode(nil, r.pcm)
		}
	}
	if err != nil || n <= 0 {
		r.level.Store(0)
		return false
	}
	n = min(n, len(mix))
	var sum float64
	for i := range n {
		x := r.pcm[i]
		mix[i] += x
		sum += float64(x) * float64(x)
	}
	lvl := math.Sqrt(sum / float64(n))
	r.level.Store(math.Float64bits(lvl))
	if lvl > speakingLevel {
		r.speakingTill.Store(time.Now().Add(300 * time.Millisecond).UnixNano())
	}
	if res == popOK && !r.audioStarted.Swap(true) {
		r.k.emit(Event{Type: EventAudioStarted, Peer: r.participant()})
	}
	return true
}

func (r *remote) participant() Participant {
	st, _ := r.state.Load().(string)
	return Participant{
		PeerID: r.id, User: r.user, UserID: r.userID, State: st,
		Muted: r.muted.Load(), Level: levelOf(&r.level),
		Speaking: time.Now().UnixNano() < r.speakingTill.Load(),
		Link:     r.stats.snapshot(),
	}
}

func (r *remote) close() {
	if r.closed.Swap(true) {
		return
	}
	_ = r.pc.Close()
}

func levelOf(v *atomic.Uint64) float64 { return math.Float64frombits(v.Load()) }
