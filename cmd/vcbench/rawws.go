package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// rawSocket is a minimal WebSocket client for the fan-out receivers: the
// handshake by hand, then frames parsed from a buffered reader into a
// reused buffer. It keeps the load generator's own CPU cost per delivery low
// so that the figures are about vcd. It answers pings and understands only
// what vcd sends (unfragmented, unmasked frames).
type rawSocket struct {
	conn    net.Conn
	br      *bufio.Reader
	payload []byte
	stamps  *stampReader // nil: no kernel receive times
	// exact reads each frame with reads that end where it ends (once the
	// handshake's buffer is used up), so that the receive time is that of
	// the frame's own bytes and not of later ones read with it.
	exact bool
	src   io.Reader
	out   []byte // writeText's frame
}

func (b *benchRoom) dialRaw(ctx context.Context, i int) (*rawSocket, error) {
	return b.dialRawStamped(ctx, i, true)
}

// dialRawStamped is dialRaw; stamped=false skips the kernel receive times
// (a socket that only counts frames has no use for them).
func (b *benchRoom) dialRawStamped(ctx context.Context, i int, stamped bool) (*rawSocket, error) {
	u, err := url.Parse(b.nodeFor(i))
	if err != nil {
		return nil, err
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u.Host, err)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := "GET /ws/chat/" + strconv.FormatInt(b.room.ID, 10) + " HTTP/1.1\r\n" +
		"Host: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\n" +
		"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer " + b.users[i%len(b.users)].client.Token() + "\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	var src io.Reader = conn
	var stamps *stampReader
	if stamped {
		stamps = newStampReader(conn)
	}
	if stamps != nil {
		src = stamps
	}
	br := bufio.NewReaderSize(src, 16<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("handshake: %s", resp.Status)
	}
	return &rawSocket{conn: conn, br: br, stamps: stamps, src: src}, nil
}

// next returns the payload of the next text frame (valid until the next
// call).
func (r *rawSocket) next() ([]byte, error) {
	for {
		var in io.Reader = r.br
		if r.exact && r.br.Buffered() == 0 {
			in = r.src
		}
		var h [2]byte
		if _, err := io.ReadFull(in, h[:]); err != nil {
			return nil, err
		}
		op := h[0] & 0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(in, ext[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			if _, err := io.ReadFull(in, ext[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(ext[:])
		}
		if n > 16<<20 {
			return nil, errors.New("frame too big")
		}
		if uint64(cap(r.payload)) < n {
			r.payload = make([]byte, n)
		}
		p := r.payload[:n]
		if _, err := io.ReadFull(in, p); err != nil {
			return nil, err
		}
		switch op {
		case 0x1:
			return p, nil
		case 0x8:
			code := 0
			if len(p) >= 2 {
				code = int(binary.BigEndian.Uint16(p))
			}
			return nil, fmt.Errorf("closed by vcd: %d %s", code, strings.TrimSpace(string(p[min(len(p), 2):])))
		case 0x9:
			if err := r.pong(p); err != nil {
				return nil, err
			}
		}
	}
}

// pong answers a ping.
func (r *rawSocket) pong(p []byte) error {
	_, err := r.conn.Write(maskedFrame(nil, 0xA, p))
	return err
}

// writeText sends a text frame. One goroutine may write while another
// reads: the frame goes out in one Write, which net.Conn never interleaves
// with the Write of a pong, and only writeText uses r.out.
func (r *rawSocket) writeText(p []byte) error {
	r.out = maskedFrame(r.out[:0], 0x1, p)
	_, err := r.conn.Write(r.out)
	return err
}

// maskedFrame appends an unfragmented client frame (client frames must be
// masked) of opcode op to dst.
func maskedFrame(dst []byte, op byte, p []byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(p); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	dst = append(dst, mask[:]...)
	for i, c := range p {
		dst = append(dst, c^mask[i%4])
	}
	return dst
}

// receivedAt is when the kernel received the newest bytes read so far,
// which for the frame next just returned is when its last byte arrived,
// or later when a following frame came in the same read (so never
// flattering); ok=false when the kernel gives no receive times.
func (r *rawSocket) receivedAt() (time.Time, bool) {
	if r.stamps == nil || r.stamps.last.IsZero() {
		return time.Time{}, false
	}
	return r.stamps.last, true
}

func (r *rawSocket) close() { _ = r.conn.Close() }
