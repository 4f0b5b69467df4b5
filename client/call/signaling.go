package call

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/coder/websocket"

	"github.com/virtual-company/vc/pkg/wsproto"
)

// signalQueue bounds the messages waiting for the signaling socket.
const signalQueue = 256

// signaler is the client end of the signaling socket: one reader (the call's
// readSignaling) and one writer goroutine fed by a bounded queue.
type signaler struct {
	conn  *websocket.Conn
	queue chan []byte
	once  sync.Once
	done  chan struct{}
}

func newSignaler(conn *websocket.Conn) *signaler {
	return &signaler{conn: conn, queue: make(chan []byte, signalQueue), done: make(chan struct{})}
}

func (s *signaler) read(ctx context.Context) (wsproto.Signal, error) {
	for {
		_, data, err := s.conn.Read(ctx)
		if err != nil {
			return wsproto.Signal{}, err
		}
		var msg wsproto.Signal
		if err := json.Unmarshal(data, &msg); err != nil {
			continue // not ours to understand; the protocol is additive
		}
		return msg, nil
	}
}

// send queues msg; when the queue is full the message is dropped (the
// socket is stuck and the call will end when it fails).
func (s *signaler) send(msg wsproto.Signal) {
	b, err := json.Marshal(msg)
	if err != nil {
		return
	}
	select {
	case <-s.done:
	case s.queue <- b:
	default:
	}
}

func (s *signaler) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case b := <-s.queue:
			if err := s.conn.Write(ctx, websocket.MessageText, b); err != nil {
				return
			}
		}
	}
}

// close says goodbye with a normal closure.
func (s *signaler) close() {
	s.once.Do(func() {
		close(s.done)
		_ = s.conn.Close(websocket.StatusNormalClosure, "hang up")
	})
}

// sendJSON marshals data into a signal of type typ to peer to.
func (s *signaler) sendJSON(typ, to string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s: %w", typ, err)
	}
	s.send(wsproto.Signal{Type: typ, To: to, Data: b})
	return nil
}
