package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

func TestExitCode(t *testing.T) {
	live := context.Background()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"ok", nil, exitOK},
		{"plain error", errors.New("boom"), exitError},
		{"not found", &client.Error{StatusCode: 404, Detail: "Room not found"}, exitError},
		{"no token", &authError{msg: "not logged in"}, exitAuth},
		{"token rejected", fmt.Errorf("list rooms: %w", &client.Error{StatusCode: 401, Detail: "Could not validate credentials"}), exitAuth},
		{"provider key rejected", &client.Error{StatusCode: 401, Code: api.CodeProviderAuth, Detail: "OpenAI rejected the key"}, exitError},
		{"declined", errCancelled, exitCancelled},
		{"context cancelled", fmt.Errorf("ask: %w", context.Canceled), exitCancelled},
		{"silent", &silentError{code: exitAuth}, exitAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, exitCode(live, tt.err))
		})
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	require.Equal(t, exitCancelled, exitCode(cancelled, errors.New("read: connection reset")), "Ctrl-C wins over the error it caused")
	require.Equal(t, "cancelled", errorLine(cancelled, errors.New("x"), ""))
	require.Contains(t, errorLine(live, &client.Error{StatusCode: 401, Detail: "Could not validate credentials"}, ""), "vc login")
}
