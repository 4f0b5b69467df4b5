package connlimit

import (
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// Instrument lets srv tell a Listener's connections apart: serving a
// request (from its handler's start to the end of its response), idle, or
// handed over to a WebSocket. Call it once, before serving.
func Instrument(srv *fasthttp.Server) {
	next := srv.Handler
	srv.Handler = func(ctx *fasthttp.RequestCtx) {
		if c, ok := ctx.Conn().(*Conn); ok {
			c.Serving(true)
		}
		next(ctx)
	}
	prev := srv.ConnState
	srv.ConnState = func(nc net.Conn, st fasthttp.ConnState) {
		if c, ok := nc.(*Conn); ok {
			switch st {
			case fasthttp.StateHijacked:
				c.Detach()
			case fasthttp.StateIdle, fasthttp.StateClosed:
				c.Serving(false)
			}
		}
		if prev != nil {
			prev(nc, st)
		}
	}
}

// SetTimeouts gives srv's connections idle to send each request's headers
// and to start the next request on a kept-alive connection, and body to
// send a request's body once its headers are in. fasthttp has one read
// timeout for headers and body together; a header is small, a body may be
// a slow upload, so the body's deadline is set when the header completes.
func SetTimeouts(srv *fasthttp.Server, idle, body time.Duration) {
	srv.ReadTimeout = idle
	srv.IdleTimeout = idle
	prev := srv.HeaderReceived
	srv.HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		var rc fasthttp.RequestConfig
		if prev != nil {
			rc = prev(h)
		}
		if rc.ReadTimeout == 0 {
			rc.ReadTimeout = body
		}
		return rc
	}
}
