// Package logctx carries a request's id in its context so that every log
// line written with that context (slog's *Context methods) carries it as
// request_id, whichever package writes it. It holds log metadata only,
// never a dependency.
package logctx

import (
	"context"
	"log/slog"
)

type requestIDKey struct{}

type connIDKey struct{}

// WithConnID returns ctx carrying a socket's connection id (the request id
// of its upgrade request), logged as conn_id.
func WithConnID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, connIDKey{}, id)
}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries ("" when none).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Handler adds request_id (and conn_id) to every record logged with a context that
// carries one and that does not already have it.
func Handler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "request_id"
			return !has
		})
		if !has {
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	if id, _ := ctx.Value(connIDKey{}).(string); id != "" {
		r.AddAttrs(slog.String("conn_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(as []slog.Attr) slog.Handler { return handler{h.Handler.WithAttrs(as)} }
func (h handler) WithGroup(name string) slog.Handler    { return handler{h.Handler.WithGroup(name)} }
