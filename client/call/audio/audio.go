// Package audio is the audio I/O of voice calls: sources that produce and sinks
// that consume 20 ms frames of 48 kHz mono float32 PCM. It offers the system
// microphone and speaker (through malgo, only in cgo builds), 16-bit PCM WAV
// files, generated tones and silence, all behind the Source and Sink
// interfaces, and parses the specs the CLI accepts ("mic", "tone:440",
// "FILE.wav", "speaker", "null").
package audio

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

const (
	// SampleRate is the rate of every frame, in Hz (Opus's native rate).
	SampleRate = 48000
	// FrameSamples is the number of mono samples in one 20 ms frame.
	FrameSamples = SampleRate / 50
)

// ErrDeviceUnavailable is returned for "mic" and "speaker" when the binary was
// built without cgo (malgo needs it) or no audio device could be opened.
var ErrDeviceUnavailable = errors.New("device audio is unavailable")

// Source produces audio frames.
type Source interface {
	// ReadFrame fills frame (FrameSamples samples in [-1, 1]). It returns
	// io.EOF when the source is exhausted. Clocked sources block until a frame
	// is available; the others return at once and are paced by the caller.
	ReadFrame(frame []float32) error
	// Close releases the source.
	Close() error
}

// Sink consumes audio frames.
type Sink interface {
	// WriteFrame consumes frame (FrameSamples samples); it must not keep it.
	WriteFrame(frame []float32) error
	// Close flushes and releases the sink.
	Close() error
}

// Clocked is implemented by sources and sinks that run on a device clock
// (microphone, speaker). A Source without it is paced by the caller, one frame
// every 20 ms.
type Clocked interface {
	Clocked() bool
}

// IsClocked reports whether v runs on its own device clock.
func IsClocked(v any) bool {
	c, ok := v.(Clocked)
	return ok && c.Clocked()
}

// DeviceOptions selects the audio backend of device sources and sinks.
type DeviceOptions struct {
	// Backend is "" for the system default or "null" for miniaudio's null
	// backend (a device clock without hardware, for tests).
	Backend string
}

// OpenSource opens a source from a spec: "mic", "tone:HZ", "null" (or
// "silence"), or the path of a WAV file.
func OpenSource(spec string, dev DeviceOptions) (Source, error) {
	switch {
	case spec == "mic":
		return OpenMic(dev)
	case spec == "null" || spec == "silence" || spec == "":
		return Silence{}, nil
	case strings.HasPrefix(spec, "tone:"):
		hz, err := strconv.ParseFloat(strings.TrimPrefix(spec, "tone:"), 64)
		if err != nil || hz <= 0 || hz >= SampleRate/2 || math.IsNaN(hz) {
			return nil, fmt.Errorf("input %q: tone frequency must be a number of Hz between 0 and %d", spec, SampleRate/2)
		}
		return NewTone(hz, 0.5), nil
	default:
		return OpenWAV(spec)
	}
}

// OpenSink opens a sink from a spec: "speaker", "null", or the path of a WAV
// file to create (48 kHz mono 16-bit PCM).
func OpenSink(spec string, dev DeviceOptions) (Sink, error) {
	switch spec {
	case "speaker":
		return OpenSpeaker(dev)
	case "null", "":
		return Discard{}, nil
	default:
		return CreateWAV(spec)
	}
}

// Silence is a source of silent frames that never ends.
type Silence struct{}

// ReadFrame fills frame with zeros.
func (Silence) ReadFrame(frame []float32) error {
	clear(frame)
	return nil
}

// Close does nothing.
func (Silence) Close() error { return nil }

// Discard is a sink that drops every frame.
type Discard struct{}

// WriteFrame drops frame.
func (Discard) WriteFrame([]float32) error { return nil }

// Close does nothing.
func (Discard) Close() error { return nil }

// Tone is a source of a sine wave that never ends.
type Tone struct {
	step, phase float64
	amplitude   float32
}

// NewTone returns a sine source of hz at amplitude (0..1).
func NewTone(hz float64, amplitude float32) *Tone {
	return &Tone{step: 2 * math.Pi * hz / SampleRate, amplitude: amplitude}
}

// ReadFrame fills frame with the next samples of the sine, phase-continuous.
func (t *Tone) ReadFrame(frame []float32) error {
	for i := range frame {
		frame[i] = t.amplitude * float32(math.Sin(t.phase))
		t.phase += t.step
		if t.phase > 2*math.Pi {
			t.phase -= 2 * math.Pi
		}
	}
	return nil
}

// Close does nothing.
func (*Tone) Close() error { return nil }

// Goertzel returns the power of frequency hz in samples (at SampleRate),
// normalised by the number of samples; tests and tools use it to tell which
// tone a recording holds.
func Goertzel(samples []float32, hz float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*hz/SampleRate)
	var s1, s2 float64
	for _, x := range samples {
		s0 := float64(x) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - coeff*s1*s2
	n := float64(len(samples))
	return p / (n * n)
}

// RMS returns the root mean square of samples.
func RMS(samples []float32) float64 {
	if len(samples) == 0 {
		return 0
	}
	var sum float64
	for _, x := range samples {
		sum += float64(x) * float64(x)
	}
	return math.Sqrt(sum / float64(len(samples)))
}
