package ai

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/virtual-company/vc/pkg/wsproto"
	"github.com/virtual-company/vc/server/apierr"
)

// failed ends a reply that went wrong: the partial text (if any) is stored
// as truncated, then ai_error and a system message saying what to do. A
// cancellation by a member stores the partial text and ends with ai_error
// code api.CodeCanceled but no system message.
func (o *Orchestrator) failed(ctx context.Context, log *slog.Logger, streamID string, t trigger, call Call, err error, partial string) {
	room, roleID := t.room, t.role.ID
	sctx := context.WithoutCancel(ctx)
	q, ok := t.question.wait(o.baseCtx)
	if !ok {
		return // the question was not stored (or the server is closing)
	}
	var msgID int64
	if partial != "" {
		msg, serr := o.storeReply(sctx, t, apiRole(t.role), partial, true)
		if serr != nil {
			log.Error("store truncated reply", "err", serr)
		} else {
			msgID = msg.ID
		}
	}
	code, detail := Explain(err, call.Provider, o.limits.ReplyTimeout)
	var cc *cancelCause
	canceled := errors.As(context.Cause(ctx), &cc) || (errors.Is(err, ErrCanceled) && o.baseCtx.Err() == nil && ctx.Err() != nil)
	if canceled {
		code, detail = apierr.Canceled.Code, canceledDetail
	} else if o.baseCtx.Err() != nil {
		code, detail = apierr.Unavailable.Code, "The server is shutting down; ask again in a moment."
	}
	if t.meeting != nil {
		t.meeting.err, t.meeting.canceled = err, cc != nil
	}
	o.pub.Publish(room.ID, wsproto.Event{Type: wsproto.TypeAIError, RoomID: room.ID, StreamID: streamID, RoleID: &roleID,
		Role: t.role.Name, ReplyTo: q.ID, MessageID: msgID, Detail: detail, Code: code, MeetingID: t.meetingID()})
	if canceled {
		return
	}
	log.Info("reply failed", "code", code, "err", err)
	if _, serr := o.be.CreateSystem(sctx, room.ID, t.role.Name+" could not answer: "+detail); serr != nil {
		log.Error("store system message", "err", serr)
	}
}

// canceledDetail is the detail of a reply a member (or the caller) cancelled.
const canceledDetail = "The reply was cancelled."

// ErrStreamCut is the cause of a provider error for a stream that ended
// before the provider said the reply was complete.
var ErrStreamCut = errors.New("the stream ended before the reply was complete")

// Explain turns a reply error into its wire code (api.Code*) and a sentence
// a user can act on. It never includes a key.
func Explain(err error, provider string, timeout time.Duration) (code, detail string) {
	kind, detail := explain(err, provider, timeout)
	return kind.Code, detail
}

// explain is Explain with the error's kind in the catalogue (server/apierr).
func explain(err error, provider string, timeout time.Duration) (*apierr.Kind, string) {
	var nk *NoKeyError
	var le *LimitError
	var pe *Error
	switch {
	case errors.As(err, &nk):
		return apierr.NoAPIKey, nk.Error() + "."
	case errors.As(err, &le):
		return le.Kind, le.Detail
	case errors.Is(err, ErrEndpointUnreachable) && errors.As(err, &pe):
		return apierr.ProviderUnavailable, fmt.Sprintf("%s: %s. Check the base_url of your %s key.", DisplayName(pe.Provider), pe.Message, pe.Provider)
	case errors.As(err, &pe):
		// The error names its provider; the call's is the fallback.
		name := DisplayName(cmp.Or(pe.Provider, provider))
		status := ""
		if pe.Status != 0 {
			status = fmt.Sprintf(" (%d)", pe.Status)
		}
		switch pe.Kind {
		case KindAuth:
			return apierr.ProviderAuth, fmt.Sprintf("%s rejected the key%s: check it, then replace it with `vc keys add %s`.", name, status, pe.Provider)
		case KindRateLimit:
			return apierr.ProviderRateLimited, fmt.Sprintf("%s is rate limiting this key%s: wait a minute and ask again.", name, status)
		case KindBadRequest:
			msg := pe.Message
			if msg == "" {
				msg = "bad request"
			}
			return apierr.ProviderBadRequest, fmt.Sprintf("%s rejected the request%s: %s. Check the role's model.", name, status, strings.TrimRight(msg, "."))
		case KindTimeout:
			return apierr.ProviderTimeout, fmt.Sprintf("%s did not finish within %s: the reply was stopped. Try again, or pick a faster model.", name, timeout)
		case KindCanceled:
			return apierr.Canceled, canceledDetail
		default:
			if streamCut(pe) {
				return apierr.ProviderUnavailable, fmt.Sprintf("The connection to %s was cut mid-reply: the text so far is kept, marked as truncated. Ask again for a full answer.", name)
			}
			return apierr.ProviderUnavailable, fmt.Sprintf("%s is unavailable right now%s: try again in a moment.", name, status)
		}
	case errors.Is(err, ErrBadRequest):
		return apierr.BadRequest, err.Error() + "."
	}
	return apierr.Internal, "Something went wrong on the server; try again."
}

// streamCut reports whether a provider's stream ended early: the provider
// saw no end of the reply (ErrStreamCut), or the connection closed under the
// response without an HTTP status.
func streamCut(pe *Error) bool {
	return errors.Is(pe.Err, ErrStreamCut) ||
		pe.Status == 0 && (errors.Is(pe.Err, io.ErrUnexpectedEOF) || errors.Is(pe.Err, io.EOF))
}
