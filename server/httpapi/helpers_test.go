package httpapi_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/servertest"
)

// env is a running daemon plus JSON helpers for one test.
type env struct {
	t *testing.T
	*servertest.Daemon
}

func start(t *testing.T, opts ...servertest.Option) *env {
	t.Helper()
	return &env{t: t, Daemon: servertest.Start(t, opts...)}
}

// call sends a request and checks the status; out (if not nil) receives the
// decoded answer.
func (e *env) call(method, path, token string, body any, want int, out any) []byte {
	e.t.Helper()
	status, b := e.Do(method, path, token, body)
	require.Equal(e.t, want, status, "%s %s answered %s", method, path, b)
	if out != nil {
		require.NoError(e.t, json.Unmarshal(b, out), "%s %s: %s", method, path, b)
	}
	return b
}

// fail sends a request that must fail with status and returns its error body.
func (e *env) fail(method, path, token string, body any, want int) api.Error {
	e.t.Helper()
	var ae api.Error
	e.call(method, path, token, body, want, &ae)
	require.NotEmpty(e.t, ae.Detail, "%s %s: error without detail", method, path)
	return ae
}

func (e *env) room(token, name string) api.Room {
	e.t.Helper()
	var r api.Room
	e.call("POST", "/api/rooms/", token, api.CreateRoomRequest{Name: name}, 201, &r)
	return r
}

func (e *env) post(token string, roomID int64, content string) api.Message {
	e.t.Helper()
	var m api.Message
	e.call("POST", fmt.Sprintf("/api/rooms/%d/messages", roomID), token, api.CreateMessageRequest{Content: content}, 201, &m)
	return m
}

func (e *env) history(token string, roomID int64, query string) []api.Message {
	e.t.Helper()
	var ms []api.Message
	e.call("GET", fmt.Sprintf("/api/rooms/%d/messages%s", roomID, query), token, nil, 200, &ms)
	return ms
}

func seqs(ms []api.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
