package audio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

const (
	wavFormatPCM        = 1
	wavFormatExtensible = 0xFFFE
	wavHeaderSize       = 44
)

// WAVReader is a source reading a 16-bit PCM WAV file. Stereo and other
// channel counts are mixed down to mono; other sample rates are resampled
// (linearly) to 48 kHz.
type WAVReader struct {
	f        *os.File
	r        *bufio.Reader
	channels int
	rate     int
	left     int64 // data bytes not read yet
	// Resampling state: the two source samples around the read position.
	pos      float64
	prev     float32
	next     float32
	started  bool
	srcEnded bool
	raw      []byte
}

// OpenWAV opens a 16-bit PCM WAV file for reading.
func OpenWAV(path string) (*WAVReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open input %q: %w", path, err)
	}
	w := &WAVReader{f: f, r: bufio.NewReaderSize(f, 64<<10)}
	if err := w.readHeader(); err != nil {
		f.Close()
		return nil, fmt.Errorf("input %q: %w", path, err)
	}
	w.raw = make([]byte, 2*w.channels)
	return w, nil
}

// SampleRate returns the file's own sample rate.
func (w *WAVReader) SampleRate() int { return w.rate }

// Channels returns the file's own channel count.
func (w *WAVReader) Channels() int { return w.channels }

func (w *WAVReader) readHeader() error {
	var riff [12]byte
	if _, err := io.ReadFull(w.r, riff[:]); err != nil {
		return fmt.Errorf("not a WAV file: %w", err)
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return errors.New("not a WAV file (no RIFF/WAVE header)")
	}
	haveFmt := false
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(w.r, hdr[:]); err != nil {
			return fmt.Errorf("WAV file has no data chunk: %w", err)
		}
		id, size := string(hdr[0:4]), int64(binary.LittleEndian.Uint32(hdr[4:8]))
		switch id {
		case "fmt ":
			if size < 16 || size > 1<<16 {
				return fmt.Errorf("WAV fmt chunk of %d bytes", size)
			}
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(w.r, b); err != nil {
				return fmt.Errorf("read WAV fmt chunk: %w", err)
			}
			format := binary.LittleEndian.Uint16(b[0:2])
			w.channels = int(binary.LittleEndian.Uint16(b[2:4]))
			w.rate = int(binary.LittleEndian.Uint32(b[4:8]))
			bits := binary.LittleEndian.Uint16(b[14:16])
			if format == wavFormatExtensible && size >= 26 {
				format = binary.LittleEndian.Uint16(b[24:26])
			}
			if format != wavFormatPCM || bits != 16 {
				return fmt.Errorf("WAV format %d with %d bits per sample: only 16-bit PCM is supported", format, bits)
			}
			if w.channels < 1 || w.channels > 8 || w.rate < 8000 || w.rate > 192000 {
				return fmt.Errorf("WAV with %d channels at %d Hz is not supported", w.channels, w.rate)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return errors.New("WAV data chunk before fmt chunk")
			}
			w.left = size
			if size == 0xFFFFFFFF || size == 0 {
				w.left = 1 << 62 // streamed file without a final size
			}
			return nil
		default:
			if _, err := io.CopyN(io.Discard, w.r, size+size%2); err != nil {
				return fmt.Errorf("skip WAV chunk %q: %w", id, err)
			}
		}
	}
}

// readSample returns the next source sample mixed down to mono.
func (w *WAVReader) readSample() (float32, bool) {
	if w.left < int64(len(w.raw)) {
		return 0, false
	}
	if _, err := io.ReadFull(w.r, w.raw); err != nil {
		w.left = 0
		return 0, false
	}
	w.left -= int64(len(w.raw))
	var sum float32
	for c := range w.channels {
		sum += float32(int16(binary.LittleEndian.Uint16(w.raw[2*c:]))) / 32768
	}
	return sum / float32(w.channels), true
}

// ReadFrame fills frame with the next 20 ms; a short last frame is padded
// with silence, and io.EOF follows.
func (w *WAVReader) ReadFrame(frame []float32) error {
	if w.srcEnded {
		return io.EOF
	}
	if !w.started {
		w.started = true
		var ok bool
		if w.prev, ok = w.readSample(); !ok {
			w.srcEnded = true
			return io.EOF
		}
		w.next, ok = w.readSample()
		if !ok {
			w.next = w.prev
		}
	}
	step := float64(w.rate) / SampleRate
	for i := range frame {
		if w.srcEnded {
			frame[i] = 0
			continue
		}
		frac := float32(w.pos)
		frame[i] = w.prev + (w.next-w.prev)*frac
		w.pos += step
		for w.pos >= 1 {
			w.pos--
			w.prev = w.next
			s, ok := w.readSample()
			if !ok {
				w.srcEnded = true
				break
			}
			w.next = s
		}
	}
	return nil
}

// Close closes the file.
func (w *WAVReader) Close() error { return w.f.Close() }

// WAVWriter is a sink writing a 48 kHz mono 16-bit PCM WAV file. The header's
// sizes are fixed up on Close.
type WAVWriter struct {
	f       *os.File
	w       *bufio.Writer
	samples int64
	buf     []byte
}

// CreateWAV creates (or truncates) a WAV file for writing.
func CreateWAV(path string) (*WAVWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create output %q: %w", path, err)
	}
	w := &WAVWriter{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	if _, err := w.w.Write(wavHeader(0)); err != nil {
		f.Close()
		return nil, fmt.Errorf("write output %q: %w", path, err)
	}
	return w, nil
}

// wavHeader is the 44-byte header of a 48 kHz mono 16-bit file with n samples.
func wavHeader(n int64) []byte {
	h := make([]byte, wavHeaderSize)
	data := uint32(n * 2)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+data)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], wavFormatPCM)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], SampleRate)
	binary.LittleEndian.PutUint32(h[28:], SampleRate*2)
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], data)
	return h
}

// WriteFrame appends frame, clipped to [-1, 1].
func (w *WAVWriter) WriteFrame(frame []float32) error {
	w.buf = w.buf[:0]
	for _, x := range frame {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(FloatToInt16(x)))
	}
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("write %s: %w", w.f.Name(), err)
	}
	w.samples += int64(len(frame))
	return nil
}

// Samples returns how many samples were written so far.
func (w *WAVWriter) Samples() int64 { return w.samples }

// Close writes the final sizes into the header and closes the file.
func (w *WAVWriter) Close() error {
	err := w.w.Flush()
	if err == nil {
		_, err = w.f.WriteAt(wavHeader(w.samples), 0)
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close output %s: %w", w.f.Name(), err)
	}
	return nil
}

// FloatToInt16 converts a sample in [-1, 1] to 16-bit PCM, clipping.
func FloatToInt16(x float32) int16 {
	switch {
	case x >= 1:
		return 32767
	case x <= -1:
		return -32768
	}
	return int16(x * 32767)
}

// ReadWAVFile reads a whole WAV file as 48 kHz mono samples (for tests and
// tools).
func ReadWAVFile(path string) ([]float32, error) {
	r, err := OpenWAV(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []float32
	frame := make([]float32, FrameSamples)
	for {
		if err := r.ReadFrame(frame); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		out = append(out, frame...)
	}
}
