package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/virtual-company/vc/client/call"
	"github.com/virtual-company/vc/client/call/audio"
)

func callCommand() command {
	return command{
		name:    "call",
		summary: "two voice-call engines on this machine: set-up time, one-way latency, CPU per participant",
		run:     runCall,
	}
}

func runCall(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	var common commonFlags
	common.register(fs, 2)
	rounds := fs.Int("rounds", 10, "call set-ups to time")
	bursts := fs.Int("bursts", 20, "tone bursts to time one-way (one every 500 ms)")
	loopback := fs.Bool("loopback", true, "restrict ICE to UDP4 host candidates on 127.0.0.1 (false: every interface, as vc call does)")
	vcPath := fs.String("vc", "", "also time `vc call` processes (this vc binary) from process start to audio")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := setupRoom(ctx, common.server, 2)
	if err != nil {
		return err
	}
	base := call.Config{JitterFrames: 2}
	if *loopback {
		base.SettingEngine = call.LoopbackSettings()
	}
	fmt.Fprintf(out, "room %d, loopback-only ICE %v\n", b.room.ID, *loopback)

	// 1. Set-up: B starts while A waits in the call; done when each hears
	// the other (first decoded audio played, jitter buffer included).
	var setups []time.Duration
	for i := range *rounds {
		d, err := timeSetup(ctx, b, base)
		if err != nil {
			return fmt.Errorf("set-up round %d: %w", i+1, err)
		}
		setups = append(setups, d)
	}
	sortDurations(setups)
	fmt.Fprintf(out, "set-up (start to audio both ways): p50 %s  max %s  over %d calls (goal < 250ms)\n",
		ms(percentile(setups, 50)), ms(setups[len(setups)-1]), len(setups))

	if *vcPath != "" {
		var procs []time.Duration
		for i := range *rounds {
			d, err := timeProcessSetup(ctx, b, base, *vcPath)
			if err != nil {
				return fmt.Errorf("vc call round %d: %w", i+1, err)
			}
			procs = append(procs, d)
		}
		sortDurations(procs)
		fmt.Fprintf(out, "set-up of a `vc call` process (exec to hearing the other): p50 %s  max %s  over %d calls\n",
			ms(percentile(procs, 50)), ms(procs[len(procs)-1]), len(procs))
	}

	// 2. One-way latency file-to-file, and the CPU of the whole engine.
	lat, cpu, err := timeLatency(ctx, b, base, *bursts)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	sortDurations(lat)
	fmt.Fprintf(out, "one-way latency (input frame read to output frame written): p50 %s  p95 %s  max %s  over %d bursts (goal < 100ms)\n",
		ms(percentile(lat, 50)), ms(percentile(lat, 95)), ms(lat[len(lat)-1]), len(lat))
	fmt.Fprintf(out, "CPU of a whole engine (Opus + Pion + SRTP + jitter buffer), 2-party call: %.2f%% of one core per participant\n", cpu)

	// 3. Opus alone: one encode plus one decode per 20 ms frame.
	enc, dec, err := codecCost()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Opus per 20 ms frame: encode %s, decode %s -> %.2f%% of one core per participant in a 2-party call (goal < 3%%)\n",
		us(enc), us(dec), 100*float64(enc+dec)/float64(20*time.Millisecond))
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }
func us(d time.Duration) string { return fmt.Sprintf("%.0fus", float64(d)/1e3) }

func joinBench(ctx context.Context, b *benchRoom, i int, cfg call.Config) (*call.Call, error) {
	cfg.ICEServers = []webrtc.ICEServer{}
	return call.Join(ctx, b.users[i].client, b.room.ID, cfg)
}

// waitAudio waits until k played audio from someone.
func waitAudio(ctx context.Context, k *call.Call) error {
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-k.Events():
			if !ok {
				return fmt.Errorf("call closed: %v", k.Err())
			}
			if ev.Type == call.EventAudioStarted {
				return nil
			}
		case <-deadline:
			return errors.New("no audio after 20s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func timeSetup(ctx context.Context, b *benchRoom, base call.Config) (time.Duration, error) {
	ca := base
	ca.Input = audio.NewTone(440, 0.5)
	a, err := joinBench(ctx, b, 0, ca)
	if err != nil {
		return 0, err
	}
	defer a.Hangup()
	cb := base
	cb.Input = audio.NewTone(660, 0.5)
	start := time.Now()
	k, err := joinBench(ctx, b, 1, cb)
	if err != nil {
		return 0, err
	}
	defer k.Hangup()
	errs := make(chan error, 2)
	go func() { errs <- waitAudio(ctx, a) }()
	go func() { errs <- waitAudio(ctx, k) }()
	for range 2 {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// burstSource is silence with a 100 ms 1 kHz burst every 500 ms; it notes
// when the first frame of each burst was read (as a microphone would have
// delivered it).
type burstSource struct {
	mu    sync.Mutex
	n     int
	tone  *audio.Tone
	sent  []time.Time
	limit int
}

func (s *burstSource) ReadFrame(f []float32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.n % 25
	s.n++
	if i < 5 && s.n > 25 && len(s.sent) < s.limit {
		if i == 0 {
			s.sent = append(s.sent, time.Now())
		}
		return s.tone.ReadFrame(f)
	}
	clear(f)
	return nil
}

func (s *burstSource) Close() error { return nil }

// onsetSink notes when a sound starts in the output.
type onsetSink struct {
	mu      sync.Mutex
	loud    bool
	arrived []time.Time
}

func (s *onsetSink) WriteFrame(f []float32) error {
	loud := audio.RMS(f) > 0.05
	s.mu.Lock()
	if loud && !s.loud {
		s.arrived = append(s.arrived, time.Now())
	}
	s.loud = loud
	s.mu.Unlock()
	return nil
}

func (s *onsetSink) Close() error { return nil }

func timeLatency(ctx context.Context, b *benchRoom, base call.Config, bursts int) ([]time.Duration, float64, error) {
	src := &burstSource{tone: audio.NewTone(1000, 0.5), limit: bursts}
	sink := &onsetSink{}
	ca := base
	ca.Input = src
	a, err := joinBench(ctx, b, 0, ca)
	if err != nil {
		return nil, 0, err
	}
	defer a.Hangup()
	cb := base
	cb.Output = sink
	k, err := joinBench(ctx, b, 1, cb)
	if err != nil {
		return nil, 0, err
	}
	defer k.Hangup()
	// Wait for the bursts (the first starts after 500 ms).
	cpu0, t0 := cpuTime(), time.Now()
	deadline := time.Now().Add(time.Duration(bursts+4) * 500 * time.Millisecond)
	for time.Now().Before(deadline) {
		src.mu.Lock()
		done := len(src.sent) >= bursts
		src.mu.Unlock()
		if done {
			break
		}
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	time.Sleep(500 * time.Millisecond) // the last burst's way through
	cpuShare := 100 * float64(cpuTime()-cpu0) / float64(time.Since(t0)) / 2
	src.mu.Lock()
	sink.mu.Lock()
	defer src.mu.Unlock()
	defer sink.mu.Unlock()
	var out []time.Duration
	for _, sent := range src.sent {
		// The onset of this burst: the first one after it was sent and
		// before the next could have been.
		for _, at := range sink.arrived {
			if at.After(sent) && at.Sub(sent) < 400*time.Millisecond {
				out = append(out, at.Sub(sent))
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, 0, fmt.Errorf("no burst arrived (%d sent, %d onsets)", len(src.sent), len(sink.arrived))
	}
	return out, cpuShare, nil
}

// codecCost measures the CPU time (not wall time: the machine may be busy)
// of Opus encode and decode of a 20 ms voice-like frame with the engine's
// encoder and decoder, on one locked OS thread.
func codecCost() (enc, dec time.Duration, err error) {
	e, err := call.NewOpusEncoder()
	if err != nil {
		return 0, 0, err
	}
	d, err := call.NewOpusDecoder()
	if err != nil {
		return 0, 0, err
	}
	const frames = 500
	pcm := make([][]float32, frames)
	for i := range pcm {
		// A warbling tone with some noise: closer to speech than a sine.
		pcm[i] = make([]float32, audio.FrameSamples)
		for j := range pcm[i] {
			t := float64(i*audio.FrameSamples+j) / audio.SampleRate
			pcm[i][j] = float32(0.3*math.Sin(2*math.Pi*(220+80*math.Sin(2*math.Pi*3*t))*t) + 0.02*math.Sin(float64(j*j)))
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pkts := make([][]byte, frames)
	buf := make([]byte, 1500)
	t0 := threadCPU()
	for i := range pcm {
		n, err := e.Encode(pcm[i], buf)
		if err != nil {
			return 0, 0, err
		}
		pkts[i] = append([]byte(nil), buf[:n]...)
	}
	t1 := threadCPU()
	out := make([]float32, 5760)
	for _, p := range pkts {
		if _, err := d.Decode(p, out); err != nil {
			return 0, 0, err
		}
	}
	t2 := threadCPU()
	return (t1 - t0) / frames, (t2 - t1) / frames, nil
}

// timeProcessSetup starts `vc call` as the second participant while the
// first (an engine here) waits in the call, and times exec until the
// process printed that it hears the first.
func timeProcessSetup(ctx context.Context, b *benchRoom, base call.Config, vc string) (time.Duration, error) {
	ca := base
	ca.Input = audio.NewTone(440, 0.5)
	a, err := joinBench(ctx, b, 0, ca)
	if err != nil {
		return 0, err
	}
	defer a.Hangup()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, vc, "call", strconv.FormatInt(b.room.ID, 10),
		"--input", "tone:660", "--output", "null", "--duration", "20s", "-o", "json")
	home, err := os.MkdirTemp("", "vcbench-vc-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(home)
	cmd.Env = append(os.Environ(), "VC_SERVER="+b.server, "VC_TOKEN="+b.users[1].client.Token(),
		"XDG_CONFIG_HOME="+home, "HOME="+home)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"type":"audio_started"`) {
			return time.Since(start), nil
		}
	}
	return 0, fmt.Errorf("vc call ended without hearing anyone")
}
