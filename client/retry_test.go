package client

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/wsproto"
)

// TestStream_RetryOrGiveUp: "not now" answers (1011, 1012, 1013, 502-504)
// are retried; refusals (1008, 4001 revoked, 4003, 401) are final.
func TestStream_RetryOrGiveUp(t *testing.T) {
	closed := func(code int, reason string) error {
		return fmt.Errorf("connect: %w", websocket.CloseError{Code: websocket.StatusCode(code), Reason: reason})
	}
	for _, tc := range []struct {
		name      string
		err       error
		transient bool
		status    int // refusal status, 0: none
	}{
		{"database unavailable", closed(wsproto.CloseInternal, "unavailable: database"), true, 0},
		{"service restart", closed(1012, ""), true, 0},
		{"try again later", closed(wsproto.CloseTryAgainLater, "the call is full"), true, 0},
		{"503 at upgrade", &Error{StatusCode: http.StatusServiceUnavailable}, true, 0},
		{"bad token", closed(wsproto.ClosePolicy, "unauthorized: invalid or expired token"), false, http.StatusUnauthorized},
		{"revoked", closed(wsproto.CloseRevoked, "unauthorized: token revoked"), false, http.StatusUnauthorized},
		{"removed", closed(wsproto.CloseRemoved, "removed from the room"), false, http.StatusNotFound},
		{"401 at upgrade", &Error{StatusCode: http.StatusUnauthorized}, false, 0},
		{"going away", closed(wsproto.CloseGoingAway, ""), false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.transient, transient(tc.err))
			ferr := refusal(tc.err)
			if tc.status == 0 {
				require.NoError(t, ferr)
				return
			}
			var e *Error
			require.ErrorAs(t, ferr, &e)
			require.Equal(t, tc.status, e.StatusCode)
		})
	}
}
