package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

// Exit codes, as gh: scripts rely on them.
const (
	exitOK        = 0
	exitError     = 1
	exitCancelled = 2
	exitAuth      = 4
)

// errCancelled reports that the user cancelled (Ctrl-C, or declined a
// confirmation).
var errCancelled = errors.New("cancelled")

// authError means the command needs credentials that are missing or were
// rejected; it exits with code 4.
type authError struct {
	msg string
	err error
}

func (e *authError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *authError) Unwrap() error { return e.err }

// silentError exits with code without printing anything more (the command
// already said what happened).
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// exitCode maps an error returned by a command to the process exit code.
func exitCode(ctx context.Context, err error) int {
	var se *silentError
	var ae *authError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &se):
		return se.code
	case errors.Is(err, errCancelled), errors.Is(err, context.Canceled), ctx.Err() != nil:
		return exitCancelled
	case errors.As(err, &ae), vcdUnauthorized(err):
		return exitAuth
	default:
		return exitError
	}
}

// errorLine is the one line printed to stderr for err; server is the
// server vc talked to, for connection failures.
func errorLine(ctx context.Context, err error, server string) string {
	var ce *client.Error
	var oe *net.OpError
	var se *silentError
	switch {
	case errors.As(err, &se):
		// The command already said what happened.
		return ""
	case exitCode(ctx, err) == exitCancelled:
		return "cancelled"
	case vcdUnauthorized(err) && errors.As(err, &ce):
		return fmt.Sprintf("authentication required: %s (run `vc login`, or set VC_TOKEN)", ce.Error())
	case errors.As(err, &oe) && oe.Op == "dial":
		return fmt.Sprintf("cannot reach the server at %s: %v (is vcd running? choose another with --server or VC_SERVER)", server, oe.Err)
	case errors.As(err, &ce) && ce.RetryAfter > 0:
		return fmt.Sprintf("%s (retry in %s)", err.Error(), ce.RetryAfter)
	}
	return err.Error()
}

// vcdUnauthorized reports whether vcd rejected our token (401), as opposed
// to an AI provider rejecting an API key, which vcd reports with the code
// provider_auth.
func vcdUnauthorized(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.StatusCode == http.StatusUnauthorized && ce.Code != api.CodeProviderAuth
}
