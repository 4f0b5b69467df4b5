//go:build cgo

package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/gen2brain/malgo"
)

// DeviceAudioAvailable reports whether this build can open audio devices.
const DeviceAudioAvailable = true

// backendNull is miniaudio's null backend. malgo.BackendNull is off by one
// (the Go enum lacks ma_backend_custom) and selects the custom backend.
const backendNull = malgo.Backend(14)

// deviceQueueFrames bounds the frames buffered between a device callback and
// the call (about 200 ms); beyond it the oldest audio is dropped.
const deviceQueueFrames = 10

// device is one started malgo capture or playback device.
type device struct {
	ctx *malgo.AllocatedContext
	dev *malgo.Device

	mu      sync.Mutex
	cond    *sync.Cond
	pending []float32 // captured samples not read yet, or samples to play
	closed  bool
	primed  bool
}

func openDevice(kind malgo.DeviceType, opts DeviceOptions) (*device, error) {
	var backends []malgo.Backend
	switch opts.Backend {
	case "":
	case "null":
		backends = []malgo.Backend{backendNull}
	default:
		return nil, fmt.Errorf("%w: unknown audio backend %q", ErrDeviceUnavailable, opts.Backend)
	}
	silenceAudioLogs()
	ctx, err := malgo.InitContext(backends, malgo.ContextConfig{}, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDeviceUnavailable, err)
	}
	d := &device{ctx: ctx}
	d.cond = sync.NewCond(&d.mu)
	cfg := malgo.DefaultDeviceConfig(kind)
	cfg.SampleRate = SampleRate
	cfg.PeriodSizeInMilliseconds = 10
	cfg.Capture.Format = malgo.FormatF32
	cfg.Capture.Channels = 1
	cfg.Playback.Format = malgo.FormatF32
	cfg.Playback.Channels = 1
	var cb malgo.DeviceCallbacks
	if kind == malgo.Capture {
		cb.Data = d.onCapture
	} else {
		cb.Data = d.onPlayback
	}
	dev, err := malgo.InitDevice(ctx.Context, cfg, cb)
	if err != nil {
		_ = ctx.Uninit()
		ctx.Free()
		return nil, fmt.Errorf("%w: %v", ErrDeviceUnavailable, err)
	}
	d.dev = dev
	if err := dev.Start(); err != nil {
		d.close()
		return nil, fmt.Errorf("%w: start device: %v", ErrDeviceUnavailable, err)
	}
	return d, nil
}

// onCapture runs on the device thread: it queues the captured samples.
func (d *device) onCapture(_, in []byte, frames uint32) {
	d.mu.Lock()
	for i := range int(frames) {
		if 4*i+4 > len(in) {
			break
		}
		d.pending = append(d.pending, math.Float32frombits(binary.LittleEndian.Uint32(in[4*i:])))
	}
	if over := len(d.pending) - deviceQueueFrames*FrameSamples; over > 0 {
		d.pending = append(d.pending[:0], d.pending[over:]...)
	}
	d.mu.Unlock()
	d.cond.Broadcast()
}

// onPlayback runs on the device thread: it plays queued samples, silence on
// underrun.
func (d *device) onPlayback(out, _ []byte, frames uint32) {
	d.mu.Lock()
	n := min(int(frames), len(d.pending))
	if !d.primed && len(d.pending) < 2*FrameSamples {
		n = 0 // build up 40 ms before playing to ride out scheduling jitter
	} else {
		d.primed = true
	}
	for i := range int(frames) {
		if 4*i+4 > len(out) {
			break
		}
		var s float32
		if i < n {
			s = d.pending[i]
		}
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(s))
	}
	d.pending = append(d.pending[:0], d.pending[n:]...)
	if len(d.pending) == 0 {
		d.primed = false
	}
	d.mu.Unlock()
}

func (d *device) close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	d.cond.Broadcast()
	if d.dev != nil {
		_ = d.dev.Stop()
		d.dev.Uninit()
	}
	err := d.ctx.Uninit()
	d.ctx.Free()
	return err
}

// Mic is the system microphone (or the default capture device).
type Mic struct{ d *device }

// OpenMic starts capturing from the default microphone at 48 kHz mono.
func OpenMic(opts DeviceOptions) (Source, error) {
	d, err := openDevice(malgo.Capture, opts)
	if err != nil {
		return nil, fmt.Errorf("open microphone: %w", err)
	}
	return &Mic{d: d}, nil
}

// Clocked reports true: the microphone delivers frames in real time.
func (*Mic) Clocked() bool { return true }

// ReadFrame blocks until 20 ms were captured.
func (m *Mic) ReadFrame(frame []float32) error {
	d := m.d
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.pending) < len(frame) && !d.closed {
		d.cond.Wait()
	}
	if d.closed {
		return errors.New("microphone closed")
	}
	copy(frame, d.pending)
	d.pending = append(d.pending[:0], d.pending[len(frame):]...)
	return nil
}

// Close stops the device.
func (m *Mic) Close() error { return m.d.close() }

// Speaker is the system speaker (or the default playback device).
type Speaker struct{ d *device }

// OpenSpeaker starts playing to the default output device at 48 kHz mono.
func OpenSpeaker(opts DeviceOptions) (Sink, error) {
	d, err := openDevice(malgo.Playback, opts)
	if err != nil {
		return nil, fmt.Errorf("open speaker: %w", err)
	}
	return &Speaker{d: d}, nil
}

// Clocked reports true: the speaker plays on its own clock.
func (*Speaker) Clocked() bool { return true }

// WriteFrame queues frame for playback; beyond ~200 ms queued the oldest
// audio is dropped so latency cannot grow without bound.
func (s *Speaker) WriteFrame(frame []float32) error {
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("speaker closed")
	}
	d.pending = append(d.pending, frame...)
	if over := len(d.pending) - deviceQueueFrames*FrameSamples; over > 0 {
		d.pending = append(d.pending[:0], d.pending[over:]...)
	}
	return nil
}

// Close stops the device.
func (s *Speaker) Close() error { return s.d.close() }
