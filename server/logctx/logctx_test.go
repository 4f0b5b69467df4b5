package logctx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/server/logctx"
)

func TestHandler_AddsRequestAndConnID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logctx.Handler(slog.NewJSONHandler(&buf, nil))).With("component", "chat_ws")
	ctx := logctx.WithConnID(logctx.WithRequestID(context.Background(), "req-1"), "conn-9")
	log.InfoContext(ctx, "socket line", "user_id", 7, "room_id", 3)
	var m map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &m))
	require.Equal(t, "req-1", m["request_id"])
	require.Equal(t, "conn-9", m["conn_id"])
	require.Equal(t, "chat_ws", m["component"])

	// An explicit request_id wins; a context without ids adds nothing.
	buf.Reset()
	log.InfoContext(logctx.WithRequestID(context.Background(), "ctx"), "x", "request_id", "explicit")
	require.Equal(t, 1, bytes.Count(buf.Bytes(), []byte(`"request_id"`)))
	buf.Reset()
	log.Info("plain")
	require.NotContains(t, buf.String(), "request_id")
	require.NotContains(t, buf.String(), "conn_id")
}
