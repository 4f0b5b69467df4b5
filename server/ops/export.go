package ops

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/store"
	"github.com/virtual-company/vc/server/store/gormstore"
)

// Export formats.
const (
	FormatJSONL    = "jsonl"
	FormatMarkdown = "markdown"
)

// exportPage is how many messages one read takes.
const exportPage = 1000

// usageWindow is how long after an AI reply is stored its token usage may
// be recorded and still count as that reply's. The orchestrator records the
// usage right after storing the reply; usage rows carry no message id, so
// they are matched by room, role and time.
const usageWindow = 5 * time.Second

// Exporter writes a room's full history.
type Exporter struct {
	Store *gormstore.Store
	// Rooms checks membership for ExportForMember (nil: only Export).
	Rooms *service.Rooms
}

// CheckFormat validates an export format name.
func CheckFormat(format string) error {
	switch format {
	case FormatJSONL, FormatMarkdown:
		return nil
	}
	return &service.ValidationError{Field: "format", Message: fmt.Sprintf("unknown export format %q: use jsonl or markdown", format)}
}

// ExportForMember writes the room's history for one of its members;
// service.ErrNotFound when the room does not exist or userID is not a member.
func (e *Exporter) ExportForMember(ctx context.Context, userID, roomID int64, format string, w io.Writer) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	if _, err := e.Rooms.RequireMember(ctx, roomID, userID); err != nil {
		return err
	}
	return e.Export(ctx, roomID, format, w)
}

// Export writes every message of the room, oldest first, as JSON lines
// (api.ExportedMessage) or as a Markdown transcript. AI replies carry the
// model and token usage recorded for them.
func (e *Exporter) Export(ctx context.Context, roomID int64, format string, w io.Writer) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	room, err := e.Store.RoomByID(ctx, roomID)
	if err != nil {
		return fmt.Errorf("export room %d: %w", roomID, err)
	}
	usage, err := e.roomUsage(ctx, roomID)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if format == FormatMarkdown {
		fmt.Fprintf(bw, "# %s\n\nRoom %d, exported %s.\n", room.Name, room.ID, time.Now().UTC().Format(time.RFC3339))
	}
	var after int64
	for {
		page, err := e.Store.Messages(ctx, roomID, store.MessageQuery{After: after, Limit: exportPage})
		if err != nil {
			return fmt.Errorf("export room %d: %w", roomID, err)
		}
		for _, m := range page {
			x := api.ExportedMessage{Message: service.MessageOf(m)}
			if m.MessageType == api.MessageAIResponse && m.RoleID != nil {
				if u, ok := usage.take(*m.RoleID, m.CreatedAt); ok {
					x.Model = u.Model
					x.Usage = &api.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens}
				}
			}
			if format == FormatJSONL {
				if err := enc.Encode(x); err != nil {
					return fmt.Errorf("export room %d: %w", roomID, err)
				}
			} else {
				writeMarkdown(bw, x)
			}
		}
		if len(page) < exportPage {
			break
		}
		after = page[len(page)-1].Seq
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export room %d: %w", roomID, err)
	}
	return nil
}

func writeMarkdown(w io.Writer, m api.ExportedMessage) {
	fmt.Fprintf(w, "\n### %s · %s · #%d", m.User, m.Timestamp.UTC().Format(time.RFC3339), m.Seq)
	if m.MessageType != "" && m.MessageType != "text" {
		fmt.Fprintf(w, " · %s", m.MessageType)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "\n%s\n", strings.TrimRight(m.Content, "\n"))
	var notes []string
	if m.Truncated {
		notes = append(notes, "truncated")
	}
	if m.Model != "" {
		notes = append(notes, m.Model)
	}
	if m.Usage != nil {
		notes = append(notes, fmt.Sprintf("%d tokens in, %d out", m.Usage.InputTokens, m.Usage.OutputTokens))
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\n_%s_\n", strings.Join(notes, " · "))
	}
}

type usageRow struct {
	RoleID       int64
	Model        string
	InputTokens  int64
	OutputTokens int64
	CreatedAt    time.Time
}

// usageQueue holds a room's usage rows per role, oldest first.
type usageQueue map[int64][]usageRow

// take returns the usage recorded for a reply of role stored at t: the
// oldest unused row of that role recorded at most usageWindow after t.
// Older rows (replies that failed before being stored) are skipped.
func (q usageQueue) take(roleID int64, t time.Time) (usageRow, bool) {
	rows := q[roleID]
	for len(rows) > 0 && rows[0].CreatedAt.Before(t.Add(-time.Second)) {
		rows = rows[1:]
	}
	q[roleID] = rows
	if len(rows) == 0 || rows[0].CreatedAt.After(t.Add(usageWindow)) {
		return usageRow{}, false
	}
	q[roleID] = rows[1:]
	return rows[0], true
}

func (e *Exporter) roomUsage(ctx context.Context, roomID int64) (usageQueue, error) {
	var rows []usageRow
	err := e.Store.ReadDB().WithContext(ctx).Raw(`SELECT role_id, model, input_tokens, output_tokens, created_at
		FROM ai_usage WHERE room_id = ? AND role_id IS NOT NULL ORDER BY created_at, id`, roomID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("export room %d: read usage: %w", roomID, err)
	}
	q := usageQueue{}
	for _, r := range rows {
		q[r.RoleID] = append(q[r.RoleID], r)
	}
	return q, nil
}
