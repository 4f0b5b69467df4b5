package realtime

import "encoding/binary"

// Frame is one encoded event, shared by every socket it is queued for.
type Frame struct {
	// Data is the event's JSON.
	Data []byte
	// wire is Data framed as one server-to-client text frame, built once
	// for every socket; for the rest of a partly written frame it is those
	// bytes and Data is nil.
	wire []byte
}

// NewFrame wraps an encoded event.
func NewFrame(data []byte) *Frame {
	wire := appendFrame(make([]byte, 0, len(data)+10), opText, data)
	return &Frame{Data: wire[len(wire)-len(data):], wire: wire}
}

// restOf is the end of a frame (or of frames) the socket took only part
// of, as a frame of its own (Data nil) that must go out before anything else.
func restOf(tail []byte) *Frame { return &Frame{wire: tail} }

// begun reports whether f is the rest of a partly written frame.
func (f *Frame) begun() bool { return f.Data == nil }

// queued is one encoded event in a socket's queue; seq is set for message
// events (the writer skips those a resume replay already sent).
type queued struct {
	frame *Frame
	seq   int64
}

// WebSocket opcodes of the frames the server builds.
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// appendFrame appends one final, unmasked (server-to-client) frame. The
// server never fragments or compresses, so every frame is this header and
// the payload.
func appendFrame(dst []byte, opcode byte, payload []byte) []byte {
	dst = append(dst, 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// frameLen is the size of a server frame with n bytes of payload.
func frameLen(n int) int {
	switch {
	case n < 126:
		return 2 + n
	case n <= 0xFFFF:
		return 4 + n
	}
	return 10 + n
}
