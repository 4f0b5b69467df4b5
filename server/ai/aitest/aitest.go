// Package aitest runs fake LLM provider servers on 127.0.0.1 that speak the
// providers' real streaming wire formats (OpenAI chat completions SSE ending
// with `data: [DONE]`, Anthropic's message_start ... message_stop events), so
// tests and the benchmark tool drive the official SDKs without a network.
// Each server is programmable (replies, token rate, errors, cuts) and records
// what it received. Non-streamed structured calls (a meeting chair's
// decision, minutes) are answered in both wire formats too: a tool_use block
// for Anthropic's forced tool, the message content for OpenAI's json_schema
// response format.
package aitest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Flavor selects the wire format a Server speaks.
type Flavor int

// The wire formats.
const (
	OpenAI Flavor = iota
	Anthropic
)

// Response programs one answer of a Server.
type Response struct {
	// Status, when not 0 or 200, answers with that HTTP error and the
	// provider's error body.
	Status int
	// ErrorMessage is the message inside the error body.
	ErrorMessage string
	// RetryAfter is sent as Retry-After-Ms with Status 429 and 5xx (default
	// 1 ms, so SDK retries are fast).
	RetryAfter time.Duration
	// Tokens are streamed one per event. When empty, Text is split into
	// words (each keeping its trailing space), else TokenCount tokens
	// "t0 ", "t1 ", ... are generated, else the reply is "Hello from the fake.".
	Tokens     []string
	Text       string
	TokenCount int
	// FirstDelay is waited before the first token; TokenDelay between tokens.
	FirstDelay time.Duration
	TokenDelay time.Duration
	// CutAfter > 0 aborts the connection after that many tokens, without
	// the end of the stream.
	CutAfter int
	// FinishReason is "stop" (OpenAI) / "end_turn" (Anthropic) by default;
	// "length" / "max_tokens" marks a truncated reply.
	FinishReason string
	// InputTokens reported in usage (default: words in the prompt).
	InputTokens int64
	// JSON is the object answered to a structured request (Request.Tool
	// set): the input of a tool_use block (Anthropic) or the message
	// content (OpenAI). Empty: Anthropic answers a text block without
	// tool use, OpenAI the text as content, both malformed answers.
	JSON string
}

// Request is what the server received in one chat call.
type Request struct {
	Path string
	// Auth is the Authorization header (OpenAI) or x-api-key (Anthropic).
	Auth        string
	Header      http.Header
	Model       string
	System      string
	Messages    []Message
	MaxTokens   int
	Temperature *float64
	Stream      bool
	// IncludeUsage is stream_options.include_usage (OpenAI).
	IncludeUsage bool
	// Tool names the structured answer asked for: the tool forced by
	// tool_choice (Anthropic) or the json_schema response format's name
	// (OpenAI); "" for an ordinary chat call. Schema is its JSON schema.
	Tool   string
	Schema json.RawMessage
	// At is when the request arrived.
	At time.Time
}

// Call is one chat call with the times the fake saw: when the request
// arrived and when the answer's last byte was written.
type Call struct {
	Request
	End time.Time
}

// Message is one received conversation turn.
type Message struct {
	Role    string
	Content string
}

// ModelInfo is one entry of the fake's model list.
type ModelInfo struct {
	ID            string
	Name          string
	ContextLength int
}

// Server is a running fake provider.
type Server struct {
	// URL is the base URL to give the SDK: ".../v1" for OpenAI, the root for Anthropic.
	URL    string
	flavor Flavor
	srv    *httptest.Server

	mu       sync.Mutex
	queue    []Response
	def      Response
	handler  func(Request) Response
	received []Request
	ends     []time.Time
	models   []ModelInfo
	modelHit int
	notify   chan Request
}

// Start runs a fake provider of the given flavor on 127.0.0.1:0.
func Start(flavor Flavor) *Server {
	s := &Server{flavor: flavor, notify: make(chan Request, 4096)}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.srv.Config.ErrorLog = nil
	s.srv.Start()
	s.URL = s.srv.URL
	if flavor == OpenAI {
		s.URL += "/v1"
	}
	return s
}

// Listen runs a fake provider on addr (host:port; port 0 picks one), for
// tools that must tell a separate vcd where the fake is.
func Listen(flavor Flavor, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fake provider: listen %s: %w", addr, err)
	}
	s := &Server{flavor: flavor, notify: make(chan Request, 4096)}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	_ = s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Start()
	s.URL = s.srv.URL
	if flavor == OpenAI {
		s.URL += "/v1"
	}
	return s, nil
}

// TB is the part of testing.TB that New needs.
type TB interface {
	Helper()
	Cleanup(func())
}

// New starts a fake provider and stops it when the test ends.
func New(t TB, flavor Flavor) *Server {
	t.Helper()
	s := Start(flavor)
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and aborts open streams.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.srv.Listener.Addr().String() }

// Enqueue programs the next answers, in order; when the queue is empty the
// default answer (SetDefault) is used.
func (s *Server) Enqueue(rs ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, rs...)
}

// SetDefault sets the answer used when the queue is empty.
func (s *Server) SetDefault(r Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.def = r
}

// SetHandler decides every answer from the request (overrides the queue).
func (s *Server) SetHandler(h func(Request) Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

// SetModels sets the list served at GET /v1/models.
func (s *Server) SetModels(ms ...ModelInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models = ms
}

// ModelListCalls counts GET /v1/models requests.
func (s *Server) ModelListCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modelHit
}

// Received returns every chat request so far, oldest first.
func (s *Server) Received() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.received...)
}

// Calls returns every chat call so far with its times, oldest first (End
// is zero while the answer is being written).
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.received))
	for i, r := range s.received {
		out[i] = Call{Request: r, End: s.ends[i]}
	}
	return out
}

// Next waits for the next chat request (in arrival order) or ctx.
func (s *Server) Next(ctx context.Context) (Request, error) {
	select {
	case r := <-s.notify:
		return r, nil
	case <-ctx.Done():
		return Request{}, fmt.Errorf("wait for a provider request: %w", ctx.Err())
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models"):
		s.serveModels(w)
		return
	case r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/chat/completions") || strings.HasSuffix(r.URL.Path, "/messages")):
	default:
		http.NotFound(w, r)
		return
	}
	req, err := s.decode(r)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error(), 0)
		return
	}
	s.mu.Lock()
	idx := len(s.received)
	s.received = append(s.received, req)
	s.ends = append(s.ends, time.Time{})
	handler := s.handler
	var resp Response
	switch {
	case handler != nil:
	case len(s.queue) > 0:
		resp = s.queue[0]
		s.queue = s.queue[1:]
	default:
		resp = s.def
	}
	s.mu.Unlock()
	select {
	case s.notify <- req:
	default:
	}
	if handler != nil {
		resp = handler(req)
	}
	// The end is noted when the answer's last byte is flushed (the
	// client may send its next request before this handler returns), or
	// when the handler returns without a complete answer.
	ended := false
	markEnd := func() {
		if ended {
			return
		}
		ended = true
		s.mu.Lock()
		s.ends[idx] = time.Now()
		s.mu.Unlock()
	}
	defer markEnd()
	w = endWriter{ResponseWriter: w, last: markEnd}
	if resp.Status != 0 && resp.Status != http.StatusOK {
		s.writeError(w, resp.Status, resp.ErrorMessage, resp.RetryAfter)
		return
	}
	switch {
	case !req.Stream:
		s.answerWhole(w, r, req, resp)
	case s.flavor == OpenAI:
		s.streamOpenAI(w, r, req, resp)
	default:
		s.streamAnthropic(w, r, req, resp)
	}
}

// endWriter lets the stream writers say when the answer's last byte went
// out (endWriter.done).
type endWriter struct {
	http.ResponseWriter
	last func()
}

// Flush implements http.Flusher.
func (w endWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// done notes the end of the answer on w, if it is an endWriter.
func done(w http.ResponseWriter) {
	if ew, ok := w.(endWriter); ok {
		ew.last()
	}
}

// answerWhole answers a non-streamed call (the structured requests of
// meetings) with one JSON body: a chat.completion (OpenAI) or a message
// with a tool_use block (Anthropic).
func (s *Server) answerWhole(w http.ResponseWriter, r *http.Request, req Request, resp Response) {
	if resp.FirstDelay > 0 {
		t := time.NewTimer(resp.FirstDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	text := resp.JSON
	if text == "" {
		text = strings.Join(resp.tokens(), "")
	}
	in, out := inputTokens(req, resp), int64(len(SplitWords(text)))
	var body map[string]any
	if s.flavor == OpenAI {
		body = map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": text, "refusal": nil}}},
			"usage": map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out},
		}
	} else {
		block := map[string]any{"type": "text", "text": text}
		stop := "end_turn"
		if resp.JSON != "" && req.Tool != "" && json.Valid([]byte(resp.JSON)) {
			block = map[string]any{"type": "tool_use", "id": "toolu_fake", "name": req.Tool, "input": json.RawMessage(resp.JSON)}
			stop = "tool_use"
		}
		body = map[string]any{
			"id": "msg_fake", "type": "message", "role": "assistant", "model": req.Model, "content": []any{block},
			"stop_reason": stop, "stop_sequence": nil, "usage": map[string]any{"input_tokens": in, "output_tokens": out},
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
	done(w)
}

func (s *Server) serveModels(w http.ResponseWriter) {
	s.mu.Lock()
	s.modelHit++
	ms := append([]ModelInfo(nil), s.models...)
	s.mu.Unlock()
	data := make([]map[string]any, 0, len(ms))
	for _, m := range ms {
		e := map[string]any{"id": m.ID}
		if s.flavor == OpenAI {
			e["object"] = "model"
			e["created"] = 1700000000
			e["owned_by"] = "fake"
			if m.Name != "" {
				e["name"] = m.Name
			}
			if m.ContextLength > 0 {
				e["context_length"] = m.ContextLength
			}
		} else {
			e["type"] = "model"
			e["display_name"] = m.Name
			e["created_at"] = "2025-01-01T00:00:00Z"
		}
		data = append(data, e)
	}
	body := map[string]any{"data": data}
	if s.flavor == OpenAI {
		body["object"] = "list"
	} else {
		body["has_more"] = false
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
	done(w)
}

func (s *Server) writeError(w http.ResponseWriter, status int, msg string, retry time.Duration) {
	if msg == "" {
		msg = http.StatusText(status)
	}
	if status == http.StatusTooManyRequests || status >= 500 {
		if retry <= 0 {
			retry = time.Millisecond
		}
		w.Header().Set("Retry-After-Ms", fmt.Sprint(retry.Milliseconds()))
	}
	var body any
	if s.flavor == OpenAI {
		body = map[string]any{"error": map[string]any{"message": msg, "type": "error", "code": nil}}
	} else {
		typ := map[int]string{401: "authentication_error", 429: "rate_limit_error", 400: "invalid_request_error", 529: "overloaded_error"}[status]
		if typ == "" {
			typ = "api_error"
		}
		body = map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// tokens returns the tokens a response streams.
func (resp Response) tokens() []string {
	switch {
	case len(resp.Tokens) > 0:
		return resp.Tokens
	case resp.Text != "":
		return SplitWords(resp.Text)
	case resp.TokenCount > 0:
		ts := make([]string, resp.TokenCount)
		for i := range ts {
			ts[i] = fmt.Sprintf("t%d ", i)
		}
		return ts
	default:
		return SplitWords("Hello from the fake.")
	}
}

// SplitWords splits text into tokens that each keep their trailing spaces,
// so the tokens concatenate back to text.
func SplitWords(text string) []string {
	var out []string
	start := 0
	for i := 1; i < len(text); i++ {
		if text[i-1] == ' ' && text[i] != ' ' {
			out = append(out, text[start:i])
			start = i
		}
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}

// streamer writes SSE events and flushes each one.
type streamer struct {
	w  http.ResponseWriter
	f  http.Flusher
	r  *http.Request
	bf []byte
}

func newStreamer(w http.ResponseWriter, r *http.Request) *streamer {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &streamer{w: w, f: f, r: r}
}

func (st *streamer) event(name string, data []byte) bool {
	st.bf = st.bf[:0]
	if name != "" {
		st.bf = append(st.bf, "event: "...)
		st.bf = append(st.bf, name...)
		st.bf = append(st.bf, '\n')
	}
	st.bf = append(st.bf, "data: "...)
	st.bf = append(st.bf, data...)
	st.bf = append(st.bf, "\n\n"...)
	if _, err := st.w.Write(st.bf); err != nil {
		return false
	}
	if st.f != nil {
		st.f.Flush()
	}
	return st.r.Context().Err() == nil
}

// wait sleeps d unless the client went away; it reports whether to go on.
func (st *streamer) wait(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-st.r.Context().Done():
		return false
	}
}

func (st *streamer) cut() {
	// Abort the connection so the client sees an unexpected EOF.
	panic(http.ErrAbortHandler)
}

func inputTokens(req Request, resp Response) int64 {
	if resp.InputTokens > 0 {
		return resp.InputTokens
	}
	n := len(strings.Fields(req.System))
	for _, m := range req.Messages {
		n += len(strings.Fields(m.Content))
	}
	return int64(n)
}

func (s *Server) streamOpenAI(w http.ResponseWriter, r *http.Request, req Request, resp Response) {
	st := newStreamer(w, r)
	toks := resp.tokens()
	head := fmt.Sprintf(`{"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1700000000,"model":%q,"choices":[`, req.Model)
	if !st.event("", []byte(head+`{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)) || !st.wait(resp.FirstDelay) {
		return
	}
	buf := make([]byte, 0, 256)
	for i, tok := range toks {
		if i > 0 && !st.wait(resp.TokenDelay) {
			return
		}
		if resp.CutAfter > 0 && i == resp.CutAfter {
			st.cut()
		}
		q, _ := json.Marshal(tok)
		buf = append(buf[:0], head...)
		buf = append(buf, `{"index":0,"delta":{"content":`...)
		buf = append(buf, q...)
		buf = append(buf, `},"finish_reason":null}]}`...)
		if !st.event("", buf) {
			return
		}
	}
	if resp.CutAfter > 0 {
		st.cut()
	}
	fin := resp.FinishReason
	if fin == "" {
		fin = "stop"
	}
	st.event("", []byte(head+fmt.Sprintf(`{"index":0,"delta":{},"finish_reason":%q}]}`, fin)))
	if req.IncludeUsage {
		in, out := inputTokens(req, resp), int64(len(toks))
		st.event("", []byte(head+fmt.Sprintf(`],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`, in, out, in+out)))
	}
	st.event("", []byte("[DONE]"))
	done(w)
}

func (s *Server) streamAnthropic(w http.ResponseWriter, r *http.Request, req Request, resp Response) {
	st := newStreamer(w, r)
	toks := resp.tokens()
	start := fmt.Sprintf(`{"type":"message_start","message":{"id":"msg_fake","type":"message","role":"assistant","content":[],"model":%q,"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":%d,"output_tokens":1}}}`, req.Model, inputTokens(req, resp))
	if !st.event("message_start", []byte(start)) ||
		!st.event("content_block_start", []byte(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)) ||
		!st.event("ping", []byte(`{"type": "ping"}`)) ||
		!st.wait(resp.FirstDelay) {
		return
	}
	buf := make([]byte, 0, 256)
	for i, tok := range toks {
		if i > 0 && !st.wait(resp.TokenDelay) {
			return
		}
		if resp.CutAfter > 0 && i == resp.CutAfter {
			st.cut()
		}
		q, _ := json.Marshal(tok)
		buf = append(buf[:0], `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`...)
		buf = append(buf, q...)
		buf = append(buf, "}}"...)
		if !st.event("content_block_delta", buf) {
			return
		}
	}
	if resp.CutAfter > 0 {
		st.cut()
	}
	fin := resp.FinishReason
	if fin == "" {
		fin = "end_turn"
	}
	st.event("content_block_stop", []byte(`{"type":"content_block_stop","index":0}`))
	st.event("message_delta", []byte(fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":%q,"stop_sequence":null},"usage":{"output_tokens":%d}}`, fin, len(toks))))
	st.event("message_stop", []byte(`{"type":"message_stop"}`))
	done(w)
}

// wire shapes of the requests, tolerant of string or block content.
type wireContent struct{ text string }

func (c *wireContent) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		c.text = s
		return nil
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &blocks); err != nil {
		return fmt.Errorf("content is neither a string nor blocks: %w", err)
	}
	var sb strings.Builder
	for _, bl := range blocks {
		sb.WriteString(bl.Text)
	}
	c.text = sb.String()
	return nil
}

type wireRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string      `json:"role"`
		Content wireContent `json:"content"`
	} `json:"messages"`
	System        *wireContent `json:"system"`
	MaxTokens     int          `json:"max_tokens"`
	MaxCompletion int          `json:"max_completion_tokens"`
	Temperature   *float64     `json:"temperature"`
	Stream        bool         `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Tools []struct {
		Name        string          `json:"name"`
		InputSchema json.RawMessage `json:"input_schema"`
	} `json:"tools"`
	ToolChoice *struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tool_choice"`
	ResponseFormat *struct {
		Type       string `json:"type"`
		JSONSchema *struct {
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
		} `json:"json_schema"`
	} `json:"response_format"`
}

func (s *Server) decode(r *http.Request) (Request, error) {
	var wr wireRequest
	if err := json.NewDecoder(r.Body).Decode(&wr); err != nil {
		return Request{}, fmt.Errorf("decode request: %w", err)
	}
	req := Request{
		Path: r.URL.Path, Header: r.Header.Clone(), Model: wr.Model, MaxTokens: wr.MaxTokens,
		Temperature: wr.Temperature, Stream: wr.Stream,
		IncludeUsage: wr.StreamOptions != nil && wr.StreamOptions.IncludeUsage,
	}
	if req.MaxTokens == 0 {
		req.MaxTokens = wr.MaxCompletion
	}
	req.At = time.Now()
	if tc := wr.ToolChoice; tc != nil && tc.Type == "tool" {
		req.Tool = tc.Name
		for _, t := range wr.Tools {
			if t.Name == tc.Name {
				req.Schema = t.InputSchema
			}
		}
	}
	if rf := wr.ResponseFormat; rf != nil && rf.Type == "json_schema" && rf.JSONSchema != nil {
		req.Tool, req.Schema = rf.JSONSchema.Name, rf.JSONSchema.Schema
	}
	if s.flavor == OpenAI {
		req.Auth = r.Header.Get("Authorization")
	} else {
		req.Auth = r.Header.Get("X-Api-Key")
	}
	if wr.System != nil {
		req.System = wr.System.text
	}
	for _, m := range wr.Messages {
		if m.Role == "system" || m.Role == "developer" {
			if req.System != "" {
				req.System += "\n"
			}
			req.System += m.Content.text
			continue
		}
		req.Messages = append(req.Messages, Message{Role: m.Role, Content: m.Content.text})
	}
	return req, nil
}
