package client

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
)

func TestReadChunks(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		deltas  string
		done    bool
		wantErr string
	}{
		{name: "deltas then done",
			body:   "data: {\"delta\":\"Hel\"}\n\ndata: {\"delta\":\"lo\"}\n\n: keepalive\n\ndata: {\"done\":true,\"model\":\"m\",\"usage\":{\"input_tokens\":3,\"output_tokens\":2}}\n\n",
			deltas: "Hello", done: true},
		{name: "event lines and CRLF-free multi-line data are joined",
			body:   "event: chunk\ndata: {\"delta\":\ndata: \"x\"}\n\ndata: [DONE]\n\n",
			deltas: "x"},
		{name: "error chunk", body: "data: {\"delta\":\"a\"}\n\ndata: {\"error\":\"provider said no\"}\n\n",
			deltas: "a", wantErr: "provider said no"},
		{name: "cut before done", body: "data: {\"delta\":\"a\"}\n\n", deltas: "a", wantErr: "before it was done"},
		{name: "last event without blank line", body: "data: {\"done\":true}", done: true},
		{name: "bad json", body: "data: {nope\n\n", wantErr: "bad chunk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sb strings.Builder
			done := false
			err := readChunks(context.Background(), strings.NewReader(tt.body), func(ch api.GenerateChunk) error {
				sb.WriteString(ch.Delta)
				done = done || ch.Done
				return nil
			})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.deltas, sb.String())
			require.Equal(t, tt.done, done)
		})
	}
}

func TestReadChunks_StreamErrorType(t *testing.T) {
	err := readChunks(context.Background(), strings.NewReader("data: {\"error\":\"boom\"}\n\n"), func(api.GenerateChunk) error { return nil })
	var se *StreamError
	require.True(t, errors.As(err, &se))
	require.Equal(t, "boom", se.Detail)
}

func TestReadChunks_CallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := readChunks(context.Background(), strings.NewReader("data: {\"delta\":\"a\"}\n\ndata: {\"delta\":\"b\"}\n\n"), func(api.GenerateChunk) error {
		n++
		return stop
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, n)
}
