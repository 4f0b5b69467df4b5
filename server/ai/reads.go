package ai

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/store"
)

// roomReads are the reads a reply's prompt needs (members, seated roles,
// history up to the message answered), done in the background. They do not
// depend on the role, so MessageCreated starts them while it reads the
// role; every role answering the same message shares them (read-only).
type roomReads struct {
	done    chan struct{}
	members []store.Member
	seated  []store.Role
	hist    []api.Message
	err     error
}

// readRoom starts the room reads for a reply to the message with seq
// uptoSeq; wait for them with wait.
func (o *Orchestrator) readRoom(ctx context.Context, roomID, uptoSeq int64) *roomReads {
	rr := &roomReads{done: make(chan struct{})}
	if ms, ok := o.members.get(roomID); ok {
		if rs, ok := o.seats.get(roomID); ok {
			// Members and seats are cached: the history is the one read
			// left, which needs no goroutine of its own.
			rr.members, rr.seated = ms, rs
			hist, err := o.be.RecentMessages(ctx, roomID, uptoSeq, o.limits.HistoryMessages)
			if err != nil {
				rr.err = fmt.Errorf("room history: %w", err)
			}
			rr.hist = slices.Clip(hist)
			close(rr.done)
			return rr
		}
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		defer close(rr.done)
		var (
			wg                    sync.WaitGroup
			errMembers, errSeated error
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			rr.members, errMembers = o.roomMembers(ctx, roomID)
		}()
		go func() {
			defer wg.Done()
			rr.seated, errSeated = o.seatedRoles(ctx, roomID)
		}()
		hist, err := o.be.RecentMessages(ctx, roomID, uptoSeq, o.limits.HistoryMessages)
		wg.Wait()
		switch {
		case errMembers != nil:
			rr.err = fmt.Errorf("room members: %w", errMembers)
		case errSeated != nil:
			rr.err = fmt.Errorf("seated roles: %w", errSeated)
		case err != nil:
			rr.err = fmt.Errorf("room history: %w", err)
		}
		// Clipped: a reply appending to its copy never writes into another's.
		rr.hist = slices.Clip(hist)
	}()
	return rr
}

// ready reports whether the reads are done.
func (rr *roomReads) ready() bool {
	select {
	case <-rr.done:
		return true
	default:
		return false
	}
}

// wait returns the reads once done (or ctx's error first).
func (rr *roomReads) wait(ctx context.Context) error {
	select {
	case <-rr.done:
		return rr.err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// buildRequest reads the room (members, seated roles, history; at once)
// unless the trigger's reads were started already, and builds the prompt.
// The model is filled in by the caller.
func (o *Orchestrator) buildRequest(ctx context.Context, t trigger) (ChatRequest, error) {
	rr := t.reads
	if rr == nil {
		rr = o.readRoom(ctx, t.room.ID, t.replyTo.Seq)
	}
	if err := rr.wait(ctx); err != nil {
		return ChatRequest{}, err
	}
	members, seated, hist := rr.members, rr.seated, rr.hist
	if len(hist) == 0 || hist[len(hist)-1].ID != t.replyTo.ID {
		hist = append(hist, t.replyTo)
	}
	people := make([]string, 0, len(members))
	for _, m := range members {
		people = append(people, m.Username)
	}
	others := make([]store.Role, 0, len(seated))
	for _, r := range seated {
		if r.ID != t.role.ID {
			others = append(others, r)
		}
	}
	system, msgs := BuildContext(ContextInput{Role: t.role, RoomName: t.room.Name, People: people, Others: others,
		History: hist, HistoryTokens: o.limits.HistoryTokens})
	return ChatRequest{System: system, Messages: msgs,
		MaxTokens: o.limits.clampTokens(t.role.MaxTokens), Temperature: t.role.Temperature}, nil
}
