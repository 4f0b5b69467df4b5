package tui

import (
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/pkg/wsproto"
)

// Performance (colours on, TrueColor, 120x40):
//
//	go test ./tui -run '^$' -bench . -benchmem

// loadedModel returns a model at w x h showing a room with n messages
// loaded (every tenth an AI reply in Markdown), without running commands.
func loadedModel(tb testing.TB, n, w, h int) (*Model, *fakeStream) {
	tb.Helper()
	be := newFakeBackend()
	be.addRoom(1, "general", 0)
	opts := testOptions()
	opts.HistoryPage = n
	// Colours on, as on a real terminal: escape sequences cost memory and time.
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.TrueColor)
	r.SetHasDarkBackground(true)
	opts.Renderer = r
	m := New(be, opts)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(meMsg{user: be.me})
	m.Update(roomsMsg{rooms: be.rooms})
	c := m.chat
	role := int64(7)
	msgs := make([]api.Message, n)
	for i := range msgs {
		msgs[i] = api.Message{ID: int64(i + 1), RoomID: 1, Seq: int64(i + 1), User: "bob", MessageType: api.MessageText,
			Timestamp: t0.Add(time.Duration(i-n) * time.Minute), Content: fmt.Sprintf("message %d: the quick brown fox jumps over the lazy dog", i+1)}
		if i%10 == 9 {
			msgs[i].User, msgs[i].RoleID, msgs[i].MessageType = "CTO", &role, api.MessageAIResponse
			msgs[i].Content = fmt.Sprintf("Reply %d with **bold**, `code` and a list:\n\n- one\n- two", i+1)
		}
	}
	s := &fakeStream{events: make(chan wsproto.Event, 1), status: nil}
	m.Update(roomOpenedMsg{gen: c.conn.gen, room: be.rooms[0], msgs: msgs, members: be.members[1], roles: be.roles[1], stream: s})
	if c.tl.messageCount() != n {
		tb.Fatalf("loaded %d messages, want %d", c.tl.messageCount(), n)
	}
	_ = m.View()
	return m, s
}

// BenchmarkKeypress10k is one keypress in the input and the frame after it,
// with 10 000 messages loaded at 120x40.
func BenchmarkKeypress10k(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, _ := loadedModel(b, 10000, 120, 40)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heapMB := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	keys := []tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune{'a'}}, {Type: tea.KeyBackspace}}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m.Update(keys[i%2])
		_ = m.View()
	}
	b.ReportMetric(heapMB, "heap-MB")
	runtime.KeepAlive(m)
}

// BenchmarkScroll10k pages up through 10 000 loaded messages (rendering
// messages for the first time, Markdown included) and jumps back down at
// the top; one op is one key and one frame.
func BenchmarkScroll10k(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, _ := loadedModel(b, 10000, 120, 40)
	// Render every message once, as scrolling through all of them would.
	tl := m.chat.tl
	start := time.Now()
	for i := range tl.entries {
		tl.linesOf(i)
	}
	renderAll := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heapMB := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	pgup := tea.KeyMsg{Type: tea.KeyPgUp}
	esc := tea.KeyMsg{Type: tea.KeyEsc}
	for i := 0; b.Loop(); i++ {
		if m.chat.tl.offset > 0 && m.chat.tl.clamp() {
			m.Update(esc)
		} else {
			m.Update(pgup)
		}
		_ = m.View()
	}
	b.ReportMetric(heapMB, "rendered-heap-MB")
	b.ReportMetric(float64(renderAll.Milliseconds()), "render-all-ms")
}

// delta is the i-th token of a reply: words, with a paragraph break every
// 40 tokens (about 280 characters), as Markdown answers come.
func delta(i int) string {
	if i%40 == 39 {
		return "end.\n\n"
	}
	return "tok en "
}

// BenchmarkStreamDelta is one AI delta arriving and the frame after it; a
// reply restarts every 1 000 deltas (about 5 000 characters).
func BenchmarkStreamDelta(b *testing.B) {
	m, _ := loadedModel(b, 10000, 120, 40)
	c := m.chat
	role := int64(7)
	stream := 0
	for i := 0; b.Loop(); i++ {
		if i%1000 == 0 {
			if stream > 0 {
				m.Update(streamMsg{gen: c.conn.gen, events: []wsproto.Event{{Type: wsproto.TypeAIError, StreamID: fmt.Sprint(stream)}}})
			}
			stream++
			m.Update(streamMsg{gen: c.conn.gen, events: []wsproto.Event{{Type: wsproto.TypeAIStart, StreamID: fmt.Sprint(stream), RoleID: &role, Role: "CTO"}}})
		}
		m.Update(streamMsg{gen: c.conn.gen, events: []wsproto.Event{{Type: wsproto.TypeAIDelta, StreamID: fmt.Sprint(stream), Delta: delta(i)}}})
		_ = m.View()
	}
}

// BenchmarkStreamDeltaBatch is the same at 500 deltas a second as the
// stream pump delivers them when frames lag: ten deltas per message.
func BenchmarkStreamDeltaBatch10(b *testing.B) {
	m, _ := loadedModel(b, 10000, 120, 40)
	c := m.chat
	role := int64(7)
	batch := make([]wsproto.Event, 10)
	stream := 0
	for i := 0; b.Loop(); i++ {
		if i%100 == 0 {
			stream++
			m.Update(streamMsg{gen: c.conn.gen, events: []wsproto.Event{{Type: wsproto.TypeAIStart, StreamID: fmt.Sprint(stream), RoleID: &role, Role: "CTO"}}})
		}
		for k := range batch {
			batch[k] = wsproto.Event{Type: wsproto.TypeAIDelta, StreamID: fmt.Sprint(stream), Delta: delta(i*10 + k)}
		}
		m.Update(streamMsg{gen: c.conn.gen, events: batch})
		_ = m.View()
		if i%100 == 99 {
			m.Update(streamMsg{gen: c.conn.gen, events: []wsproto.Event{{Type: wsproto.TypeAIError, StreamID: fmt.Sprint(stream)}}})
		}
	}
}
