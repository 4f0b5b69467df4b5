package call

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/thesyncim/gopus"

	"github.com/virtual-company/vc/client/call/audio"
)

// pacer ticks every 20 ms on an absolute schedule, so late ticks (a busy
// machine, a GC pause) are caught up rather than lost; after a stall of over
// maxBehind frames (1 s) it starts over instead of bursting.
type pacer struct {
	start time.Time
	n     int64
	timer *time.Timer
}

const maxBehind = 50

func newPacer() *pacer { return &pacer{start: time.Now(), timer: time.NewTimer(time.Hour)} }

// wait blocks until the next frame is due or done closes (false).
func (p *pacer) wait(done <-chan struct{}) bool {
	p.n++
	due := p.start.Add(time.Duration(p.n) * frameDuration)
	now := time.Now()
	if now.Sub(due) > maxBehind*frameDuration {
		p.start, p.n = now, 0
		return true
	}
	if d := due.Sub(now); d > 0 {
		p.timer.Reset(d)
		select {
		case <-done:
			p.timer.Stop()
			return false
		case <-p.timer.C:
		}
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// sendLoop reads the input, encodes it and writes it to every peer (the
// track is shared by all peer connections).
func (k *Call) sendLoop() {
	enc, err := NewOpusEncoder()
	if err != nil {
		k.emitErr(err)
		return
	}
	frame := make([]float32, audio.FrameSamples)
	pkt := make([]byte, 1500)
	clocked := audio.IsClocked(k.cfg.Input)
	pace := newPacer()
	ended := false
	done := k.ctx.Done()
	for {
		if !clocked || ended {
			if !pace.wait(done) {
				return
			}
		} else if k.ctx.Err() != nil {
			return
		}
		if ended {
			continue
		}
		if err := k.cfg.Input.ReadFrame(frame); err != nil {
			if k.ctx.Err() != nil {
				return
			}
			ended = true
			k.selfLevel.Store(0)
			if !errors.Is(err, io.EOF) {
				k.emitErr(fmt.Errorf("read input: %w", err))
			}
			k.emit(Event{Type: EventInputEnded, Err: ignoreEOF(err)})
			continue
		}
		k.selfLevel.Store(math.Float64bits(audio.RMS(frame)))
		if k.muted.Load() {
			continue
		}
		n, err := enc.Encode(frame, pkt)
		if err != nil {
			k.emitErr(fmt.Errorf("encode audio: %w", err))
			continue
		}
		if n == 0 {
			continue
		}
		// WriteSample copies into each binding's packetizer.
		if err := k.track.WriteSample(media.Sample{Data: pkt[:n], Duration: frameDuration}); err != nil && k.ctx.Err() == nil {
			k.log.Debug("write sample", "err", err)
		}
	}
}

func ignoreEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// NewOpusEncoder returns the encoder the engine uses: 48 kHz mono, VoIP
// application, default complexity. In-band FEC is off: it roughly triples
// the encoder's CPU and packet-loss concealment covers the losses it would.
func NewOpusEncoder() (*gopus.Encoder, error) {
	enc, err := gopus.NewEncoder(gopus.EncoderConfig{SampleRate: audio.SampleRate, Channels: 1, Application: gopus.ApplicationVoIP})
	if err != nil {
		return nil, fmt.Errorf("opus encoder: %w", err)
	}
	return enc, nil
}

// NewOpusDecoder returns the decoder the engine uses per peer: 48 kHz mono
// (stereo senders such as browsers are mixed down).
func NewOpusDecoder() (*gopus.Decoder, error) {
	dec, err := gopus.NewDecoder(gopus.DefaultDecoderConfig(audio.SampleRate, 1))
	if err != nil {
		return nil, fmt.Errorf("opus decoder: %w", err)
	}
	return dec, nil
}

// playLoop mixes every peer's next frame and writes it to the output, one
// frame per 20 ms from the moment we joined (silence while nobody talks).
func (k *Call) playLoop() {
	mix := make([]float32, audio.FrameSamples)
	pace := newPacer()
	done := k.ctx.Done()
	var rs []*remote
	for pace.wait(done) {
		clear(mix)
		rs = rs[:0]
		k.mu.Lock()
		for _, r := range k.peers {
			rs = append(rs, r)
		}
		k.mu.Unlock()
		for _, r := range rs {
			r.frame(mix)
		}
		for i, x := range mix { // soft limit instead of wrapping
			if x > 1 || x < -1 {
				mix[i] = float32(math.Tanh(float64(x)))
			}
		}
		if err := k.cfg.Output.WriteFrame(mix); err != nil {
			k.emitErr(fmt.Errorf("write output: %w", err))
			go k.shutdown(fmt.Errorf("write output: %w", err))
			return
		}
	}
}

// statsState counts one peer's incoming RTP (RFC 3550 style).
type statsState struct {
	mu        sync.Mutex
	started   bool
	baseSeq   uint32
	maxSeq    uint32 // extended
	received  int64
	jitter    float64 // in RTP units (1/48000 s)
	lastTrans float64
	haveTrans bool
	base      time.Time // arrival of the first packet
	rtt       time.Duration

	concealed atomic.Int64
}

func (s *statsState) receivedPacket(seq uint16, ts uint32, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		s.started, s.baseSeq, s.maxSeq = true, uint32(seq), uint32(seq)
	} else {
		cycles := s.maxSeq &^ 0xFFFF
		ext := cycles | uint32(seq)
		if seqBefore(uint16(s.maxSeq), seq) {
			if uint16(s.maxSeq) > seq { // wrapped
				ext += 1 << 16
			}
			s.maxSeq = ext
		}
	}
	s.received++
	// Interarrival jitter: |D(i-1,i)| smoothed by 1/16.
	if s.base.IsZero() {
		s.base = at
	}
	arrival := at.Sub(s.base).Seconds() * 48000 // in RTP units, from the first packet
	transit := arrival - float64(ts)
	if s.haveTrans {
		d := math.Abs(transit - s.lastTrans)
		s.jitter += (d - s.jitter) / 16
	}
	s.lastTrans, s.haveTrans = transit, true
}

func (s *statsState) setRTT(d time.Duration) {
	s.mu.Lock()
	s.rtt = d
	s.mu.Unlock()
}

func (s *statsState) snapshot() LinkStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := LinkStats{RTT: s.rtt, PacketsReceived: s.received, Concealed: s.concealed.Load()}
	if s.started {
		expected := int64(s.maxSeq-s.baseSeq) + 1
		out.PacketsLost = max(expected-s.received, 0)
		if expected > 0 {
			out.Loss = float64(out.PacketsLost) / float64(expected)
		}
	}
	out.Jitter = time.Duration(s.jitter / 48000 * float64(time.Second))
	return out
}

// pollRTT refreshes each peer's round-trip time from the selected ICE
// candidate pair (STUN consent checks measure it) every second.
func (k *Call) pollRTT() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-k.ctx.Done():
			return
		case <-t.C:
		}
		k.mu.Lock()
		rs := make([]*remote, 0, len(k.peers))
		for _, r := range k.peers {
			rs = append(rs, r)
		}
		k.mu.Unlock()
		for _, r := range rs {
			r.refreshRTT()
		}
	}
}

func (r *remote) refreshRTT() {
	var best time.Duration
	for _, st := range r.pc.GetStats() {
		switch s := st.(type) {
		case webrtc.ICECandidatePairStats:
			if s.Nominated && s.CurrentRoundTripTime > 0 {
				best = time.Duration(s.CurrentRoundTripTime * float64(time.Second))
			}
		case webrtc.RemoteInboundRTPStreamStats:
			if best == 0 && s.RoundTripTime > 0 {
				best = time.Duration(s.RoundTripTime * float64(time.Second))
			}
		}
	}
	if best > 0 {
		r.stats.setRTT(best)
	}
}
