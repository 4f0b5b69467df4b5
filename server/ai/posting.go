package ai

import (
	"context"
	"errors"
	"sync"

	"github.com/virtual-company/vc/pkg/api"
)

// posting is a question announced by MessagePosting: the replies to it
// prepare and call their provider while it commits, and show nothing until
// it is committed; when it is dropped they are cancelled and end silently.
type posting struct {
	mu      sync.Mutex
	state   postingState
	msg     api.Message
	done    chan struct{}
	cancels []context.CancelCauseFunc
}

type postingState int

const (
	postingPending postingState = iota
	postingCommitted
	postingDropped
)

// errDropped ends a reply whose question was not stored.
var errDropped = errors.New("the message was not stored")

func newPosting() *posting { return &posting{done: make(chan struct{})} }

// committedPosting is the posting of a message already stored.
func committedPosting(msg api.Message) *posting {
	p := &posting{state: postingCommitted, msg: msg, done: make(chan struct{})}
	close(p.done)
	return p
}

// Committed implements service.Posting.
func (p *posting) Committed(msg api.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != postingPending {
		return
	}
	p.state, p.msg, p.cancels = postingCommitted, msg, nil
	close(p.done)
}

// Dropped implements service.Posting.
func (p *posting) Dropped() {
	p.mu.Lock()
	if p.state != postingPending {
		p.mu.Unlock()
		return
	}
	p.state = postingDropped
	cancels := p.cancels
	p.cancels = nil
	close(p.done)
	p.mu.Unlock()
	for _, c := range cancels {
		c(errDropped)
	}
}

// watch makes a drop cancel a reply's context.
func (p *posting) watch(cancel context.CancelCauseFunc) {
	p.mu.Lock()
	switch p.state {
	case postingPending:
		p.cancels = append(p.cancels, cancel)
		p.mu.Unlock()
	case postingDropped:
		p.mu.Unlock()
		cancel(errDropped)
	default:
		p.mu.Unlock()
	}
}

// dropped reports whether the question was dropped.
func (p *posting) dropped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == postingDropped
}

// settled reports whether the outcome is known.
func (p *posting) settled() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait returns the stored question, or ok=false when it was dropped or
// ctx ended before it was settled (a settled outcome wins over an ended
// ctx: a reply failing because the server closes still says so).
func (p *posting) wait(ctx context.Context) (api.Message, bool) {
	select {
	case <-p.done:
	default:
		select {
		case <-p.done:
		case <-ctx.Done():
			return api.Message{}, false
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.msg, p.state == postingCommitted
}
