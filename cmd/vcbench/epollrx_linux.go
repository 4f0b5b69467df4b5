//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// rxSet receives on many WebSocket client sockets from a few OS threads,
// each waiting in its own epoll: the cheapest receiver a load generator on
// the same machine as vcd can be (one recvmsg per socket wake-up, no
// goroutine per socket, no Go netpoller). The sockets are made with raw
// system calls so that the Go runtime's poller never watches them.
type rxSet struct {
	loops []*rxLoop
	next  int
}

// rxSocket is one receiving socket of an rxSet.
type rxSocket struct {
	fd   int
	idx  int
	pend []byte // bytes read and not parsed yet
	err  error
}

type rxLoop struct {
	ep    int
	socks map[int32]*rxSocket
}

// rxFrame is a text frame an rxSet received, with when: readAt is when
// the receiver had it, kernelAt when its bytes reached the socket (zero
// when the kernel gave no time).
type rxFrame struct {
	sock             *rxSocket
	payload          []byte // valid during the callback only
	readAt, kernelAt time.Time
}

// rxAvailable reports whether this platform has rxSet.
const rxAvailable = true

func newRxSet(loops int) (*rxSet, error) {
	s := &rxSet{}
	for range loops {
		ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("epoll: %w", err)
		}
		s.loops = append(s.loops, &rxLoop{ep: ep, socks: map[int32]*rxSocket{}})
	}
	return s, nil
}

// dial opens a chat socket of the room as user token, reads the upgrade
// response and the first event (presence), and adds the socket to the set.
func (s *rxSet) dial(addr netip.AddrPort, path, token string, idx int) (*rxSocket, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	fail := func(err error) (*rxSocket, error) {
		_ = syscall.Close(fd)
		return nil, err
	}
	sa := &syscall.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	if err := syscall.Connect(fd, sa); err != nil {
		return fail(fmt.Errorf("connect %s: %w", addr, err))
	}
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr.String() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\n" +
		"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer " + token + "\r\n\r\n"
	if err := writeAll(fd, []byte(req)); err != nil {
		return fail(fmt.Errorf("handshake: %w", err))
	}
	br := bufio.NewReaderSize(fdReader(fd), 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fail(fmt.Errorf("handshake: %w", err))
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fail(fmt.Errorf("handshake: %s", resp.Status))
	}
	sock := &rxSocket{fd: fd, idx: idx}
	// Whatever the handshake read past the response is the first frames.
	sock.pend, _ = br.Peek(br.Buffered())
	sock.pend = append([]byte(nil), sock.pend...)
	for { // the presence event: the socket is live
		if first, rest := splitFrame(sock.pend); first != nil {
			sock.pend = append(sock.pend[:0], rest...)
			break
		}
		var b [4096]byte
		n, err := syscall.Read(fd, b[:])
		if err != nil || n <= 0 {
			return fail(fmt.Errorf("first event: %v", err))
		}
		sock.pend = append(sock.pend, b[:n]...)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		return fail(err)
	}
	l := s.loops[s.next%len(s.loops)]
	s.next++
	if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}); err != nil {
		return fail(fmt.Errorf("epoll add: %w", err))
	}
	l.socks[int32(fd)] = sock
	return sock, nil
}

// fdReader reads a blocking socket for the handshake.
type fdReader int

func (f fdReader) Read(p []byte) (int, error) {
	n, err := syscall.Read(int(f), p)
	if n < 0 {
		n = 0
	}
	if err == nil && n == 0 {
		err = errors.New("connection closed")
	}
	return n, err
}

func writeAll(fd int, p []byte) error {
	for len(p) > 0 {
		n, err := syscall.Write(fd, p)
		if err == syscall.EINTR || err == syscall.EAGAIN {
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// splitFrame splits off the first whole server frame (header included).
func splitFrame(b []byte) (frame, rest []byte) {
	if len(b) < 2 {
		return nil, b
	}
	n, h := uint64(b[1]&0x7f), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return nil, b
		}
		n, h = uint64(binary.BigEndian.Uint16(b[2:4])), 4
	case 127:
		if len(b) < 10 {
			return nil, b
		}
		n, h = binary.BigEndian.Uint64(b[2:10]), 10
	}
	if uint64(len(b)-h) < n {
		return nil, b
	}
	end := h + int(n)
	return b[:end], b[end:]
}

// run reads every socket until ctx ends, calling onFrame for each text
// frame (from several threads at once: onFrame must be safe for that, and
// is called for one socket from one thread only). Pings are answered.
func (s *rxSet) run(ctx context.Context, onFrame func(rxFrame)) {
	var wg sync.WaitGroup
	for _, l := range s.loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			l.run(ctx, onFrame)
		}()
	}
	wg.Wait()
}

func (l *rxLoop) run(ctx context.Context, onFrame func(rxFrame)) {
	evs := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	oob := make([]byte, syscall.CmsgSpace(16))
	for ctx.Err() == nil {
		n, err := syscall.EpollWait(l.ep, evs, 50)
		if err != nil {
			continue // EINTR
		}
		for _, ev := range evs[:n] {
			sock := l.socks[ev.Fd]
			if sock == nil || sock.err != nil {
				continue
			}
			m, oobn, _, _, err := syscall.Recvmsg(sock.fd, buf, oob, 0)
			if err == syscall.EAGAIN || err == syscall.EINTR {
				continue
			}
			if err != nil || m == 0 {
				sock.err = fmt.Errorf("socket %d closed: %v", sock.idx, err)
				_ = syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, sock.fd, nil)
				continue
			}
			readAt := time.Now()
			kernelAt := kernelTime(oob[:oobn])
			data := buf[:m]
			if len(sock.pend) > 0 {
				sock.pend = append(sock.pend, data...)
				data = sock.pend
			}
			for {
				frame, rest := splitFrame(data)
				if frame == nil {
					break
				}
				data = rest
				l.handle(sock, frame, readAt, kernelAt, onFrame)
			}
			sock.pend = append(sock.pend[:0], data...)
		}
	}
}

func (l *rxLoop) handle(sock *rxSocket, frame []byte, readAt, kernelAt time.Time, onFrame func(rxFrame)) {
	op := frame[0] & 0x0f
	h := 2
	switch frame[1] & 0x7f {
	case 126:
		h = 4
	case 127:
		h = 10
	}
	payload := frame[h:]
	switch op {
	case 0x1:
		onFrame(rxFrame{sock: sock, payload: payload, readAt: readAt, kernelAt: kernelAt})
	case 0x8:
		sock.err = fmt.Errorf("socket %d closed by vcd", sock.idx)
		_ = syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, sock.fd, nil)
	case 0x9: // ping: a masked pong with the same payload
		if len(payload) < 126 {
			var mask [4]byte
			_, _ = rand.Read(mask[:])
			pong := append([]byte{0x8A, 0x80 | byte(len(payload))}, mask[:]...)
			for i, c := range payload {
				pong = append(pong, c^mask[i%4])
			}
			_ = writeAll(sock.fd, pong)
		}
	}
}

// kernelTime reads SO_TIMESTAMPNS from a recvmsg's control data.
func kernelTime(oob []byte) time.Time {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS && len(m.Data) == 16 {
			return time.Unix(int64(binary.NativeEndian.Uint64(m.Data[0:8])), int64(binary.NativeEndian.Uint64(m.Data[8:16])))
		}
	}
	return time.Time{}
}

// close closes every socket and epoll.
func (s *rxSet) close() {
	for _, l := range s.loops {
		for _, sock := range l.socks {
			_ = syscall.Close(sock.fd)
		}
		_ = syscall.Close(l.ep)
	}
}

// resolveAddr is addr (host:port, the host a name or IP) as an IPv4
// address and port.
func resolveAddr(hostport string) (netip.AddrPort, error) {
	ta, err := net.ResolveTCPAddr("tcp4", hostport)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return ta.AddrPort(), nil
}
