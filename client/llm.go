package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/virtual-company/vc/pkg/api"
)

// ListModels returns the model catalogue (GET /api/llm/models); refresh asks
// the server to refetch the providers' live lists.
func (c *Client) ListModels(ctx context.Context, refresh bool) ([]api.Model, error) {
	var q url.Values
	if refresh {
		q = url.Values{"refresh": {"true"}}
	}
	models := []api.Model{}
	err := c.do(ctx, http.MethodGet, "/api/llm/models", q, nil, &models)
	return models, err
}

// Generate asks for one AI answer without a room (POST /api/llm/generate).
// req.Stream is ignored (use GenerateStream).
func (c *Client) Generate(ctx context.Context, req api.GenerateRequest) (api.GenerateResponse, error) {
	req.Stream = false
	var r api.GenerateResponse
	err := c.do(ctx, http.MethodPost, "/api/llm/generate", nil, req, &r)
	return r, err
}

// StreamError is a failure the server reported inside a stream, after the
// 200 answer had started (a provider failing part-way, for example).
type StreamError struct {
	// Detail is the server's message.
	Detail string
}

func (e *StreamError) Error() string { return e.Detail }

// GenerateStream asks for one AI answer as a stream of deltas
// (POST /api/llm/generate with "stream": true, answered as text/event-stream
// `data: {api.GenerateChunk}` lines). onChunk is called for every chunk in
// order, the last one with Done set; an error from onChunk stops the stream
// and is returned. Cancelling ctx aborts the request, which stops the
// provider's generation on the server. A chunk carrying Error ends the stream
// with a *StreamError.
func (c *Client) GenerateStream(ctx context.Context, req api.GenerateRequest, onChunk func(api.GenerateChunk) error) error {
	req.Stream = true
	hreq, err := c.newRequest(ctx, http.MethodPost, "/api/llm/generate", nil, req)
	if err != nil {
		return err
	}
	hreq.Header.Set("Accept", "text/event-stream")
	// A stream may legitimately last longer than the client's request timeout;
	// ctx bounds it instead.
	h := *c.http
	h.Timeout = 0
	resp, err := h.Do(hreq)
	if err != nil {
		return fmt.Errorf("POST /api/llm/generate: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/json" {
		// A server that does not stream answers with the whole reply.
		var r api.GenerateResponse
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			return fmt.Errorf("POST /api/llm/generate: decode answer: %w", err)
		}
		if err := onChunk(api.GenerateChunk{Delta: r.Content, Model: r.Model}); err != nil {
			return err
		}
		return onChunk(api.GenerateChunk{Done: true, Model: r.Model, Usage: r.Usage})
	}
	return readChunks(ctx, resp.Body, onChunk)
}

// readChunks parses a text/event-stream of GenerateChunk data lines.
func readChunks(ctx context.Context, body io.Reader, onChunk func(api.GenerateChunk) error) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var data strings.Builder
	dispatch := func() (done bool, err error) {
		if data.Len() == 0 {
			return false, nil
		}
		payload := data.String()
		data.Reset()
		if payload == "[DONE]" {
			return true, nil
		}
		var ch api.GenerateChunk
		if err := json.Unmarshal([]byte(payload), &ch); err != nil {
			return false, fmt.Errorf("generate stream: bad chunk: %w", err)
		}
		if ch.Error != "" {
			return true, &StreamError{Detail: ch.Error}
		}
		if err := onChunk(ch); err != nil {
			return true, err
		}
		return ch.Done, nil
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if done, err := dispatch(); done || err != nil {
				return err
			}
		case strings.HasPrefix(line, ":"):
			// A comment (keepalive).
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if err := sc.Err(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("generate stream: %w", err)
	}
	if done, err := dispatch(); done || err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.New("generate stream: the server closed the stream before it was done")
}
