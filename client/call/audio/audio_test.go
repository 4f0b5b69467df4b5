package audio_test

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client/call/audio"
)

func TestTone_DominantFrequency(t *testing.T) {
	src, err := audio.OpenSource("tone:440", audio.DeviceOptions{})
	require.NoError(t, err)
	frame := make([]float32, audio.FrameSamples)
	require.NoError(t, src.ReadFrame(frame))
	require.Greater(t, audio.Goertzel(frame, 440), 100*audio.Goertzel(frame, 660))
	require.InDelta(t, 0.5/math.Sqrt2, audio.RMS(frame), 0.01)
}

func TestOpenSource_BadSpecs(t *testing.T) {
	for _, spec := range []string{"tone:abc", "tone:-5", "tone:30000", filepath.Join(t.TempDir(), "missing.wav")} {
		_, err := audio.OpenSource(spec, audio.DeviceOptions{})
		require.Error(t, err, spec)
	}
}

func TestWAV_RoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.wav")
	sink, err := audio.OpenSink(path, audio.DeviceOptions{})
	require.NoError(t, err)
	tone := audio.NewTone(660, 0.5)
	frame := make([]float32, audio.FrameSamples)
	for range 50 {
		require.NoError(t, tone.ReadFrame(frame))
		require.NoError(t, sink.WriteFrame(frame))
	}
	require.NoError(t, sink.Close())

	st, err := os.Stat(path)
	require.NoError(t, err)
	require.EqualValues(t, 44+50*audio.FrameSamples*2, st.Size())

	samples, err := audio.ReadWAVFile(path)
	require.NoError(t, err)
	require.Len(t, samples, 50*audio.FrameSamples)
	require.Greater(t, audio.Goertzel(samples, 660), 100*audio.Goertzel(samples, 440))
}

// writeStereoWAV writes a 16-bit stereo WAV at rate with a sine of hz on both
// channels, with an extra chunk before the data as real files have.
func writeStereoWAV(t *testing.T, path string, rate int, hz float64, seconds float64) {
	t.Helper()
	n := int(float64(rate) * seconds)
	var b []byte
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*4))
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = append(b, "LIST"...)
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = append(b, 1, 2, 3, 0)
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(n*4))
	for i := range n {
		v := uint16(int16(16000 * math.Sin(2*math.Pi*hz*float64(i)/float64(rate))))
		b = binary.LittleEndian.AppendUint16(b, v)
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

func TestWAV_ReadResamplesAndDownmixes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.wav")
	writeStereoWAV(t, path, 44100, 500, 1)
	src, err := audio.OpenSource(path, audio.DeviceOptions{})
	require.NoError(t, err)
	defer src.Close()
	frame := make([]float32, audio.FrameSamples)
	var all []float32
	for {
		err := src.ReadFrame(frame)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		all = append(all, frame...)
	}
	// One second at 48 kHz, rounded up to whole frames.
	require.InDelta(t, audio.SampleRate, len(all), audio.FrameSamples)
	require.Greater(t, audio.Goertzel(all, 500), 100*audio.Goertzel(all, 440))
}

func TestWAV_RejectsNonPCM16(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.wav")
	require.NoError(t, os.WriteFile(path, []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x03\x00\x01\x00\x80\xbb\x00\x00\x00\xee\x02\x00\x04\x00\x20\x00data\x00\x00\x00\x00"), 0o600))
	_, err := audio.OpenWAV(path)
	require.ErrorContains(t, err, "only 16-bit PCM")
}

func TestDevice_NullBackend(t *testing.T) {
	if !audio.DeviceAudioAvailable {
		_, err := audio.OpenSource("mic", audio.DeviceOptions{})
		require.ErrorIs(t, err, audio.ErrDeviceUnavailable)
		require.ErrorContains(t, err, "without cgo")
		return
	}
	mic, err := audio.OpenSource("mic", audio.DeviceOptions{Backend: "null"})
	require.NoError(t, err)
	defer mic.Close()
	require.True(t, audio.IsClocked(mic))
	frame := make([]float32, audio.FrameSamples)
	for range 3 { // the null device's clock delivers frames in real time
		require.NoError(t, mic.ReadFrame(frame))
	}
	spk, err := audio.OpenSink("speaker", audio.DeviceOptions{Backend: "null"})
	require.NoError(t, err)
	require.NoError(t, spk.WriteFrame(frame))
	require.NoError(t, spk.Close())
}
