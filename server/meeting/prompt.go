package meeting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/store"
)

// transcriptMessages is the most messages of the meeting so far a prompt reads.
const transcriptMessages = 500

// entry is one message of the meeting so far.
type entry struct {
	author string
	roleID int64 // 0: a person
	text   string
}

// transcript reads the meeting so far: the room's messages since it
// started, people's and roles' (system notices left out), newest last,
// within the engine's character budget.
func (r *runner) transcript(ctx context.Context) ([]entry, error) {
	ms, err := r.e.d.Store.Messages(ctx, r.m.RoomID, store.MessageQuery{After: r.m.StartSeq, Limit: transcriptMessages, Newest: true})
	if err != nil {
		return nil, err
	}
	var out []entry
	used := 0
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		if m.MessageType == api.MessageSystem || strings.TrimSpace(m.Content) == "" {
			continue
		}
		if used+len(m.Content) > r.e.d.TranscriptChars && len(out) > 0 {
			break
		}
		used += len(m.Content)
		e := entry{author: m.Author, text: m.Content}
		if m.RoleID != nil && m.UserID == nil {
			e.roleID = *m.RoleID
		}
		out = append(out, e)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// participants describes the meeting's roles for a system prompt.
func (r *runner) participants(except int64) string {
	var parts []string
	for _, x := range r.roles {
		if x.ID == except {
			continue
		}
		s := fmt.Sprintf("%s (@%s)", x.Name, x.Handle)
		if d := strings.TrimSpace(x.Description); d != "" {
			s += ": " + strings.TrimRight(d, ".")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// conversation turns the transcript into a conversation for self (0: an
// outside view): self's messages are assistant turns, everyone else's user
// turns prefixed with the author; consecutive turns of a side are merged,
// the conversation opens with the topic and ends with closing (a user turn).
func conversation(topic string, es []entry, self int64, closing string) []PromptMessage {
	msgs := []PromptMessage{{Content: "Meeting topic: " + topic}}
	add := func(assistant bool, text string) {
		if n := len(msgs); msgs[n-1].Assistant == assistant {
			msgs[n-1].Content += "\n\n" + text
			return
		}
		msgs = append(msgs, PromptMessage{Assistant: assistant, Content: text})
	}
	for _, e := range es {
		if self != 0 && e.roleID == self {
			add(true, e.text)
			continue
		}
		author := e.author
		if author == "" {
			author = "someone"
		}
		add(false, author+": "+e.text)
	}
	add(false, closing)
	return msgs
}

// turnPrompt is the prompt of speaker's turn: its instructions, the meeting
// and its place in it, then the meeting so far.
func (r *runner) turnPrompt(ctx context.Context, speaker store.Role, round int) (Prompt, error) {
	es, err := r.transcript(ctx)
	if err != nil {
		return Prompt{}, err
	}
	var sb strings.Builder
	if s := strings.TrimSpace(speaker.AIInstructions); s != "" {
		sb.WriteString(s)
		sb.WriteString("\n\n")
	}
	fmt.Fprintf(&sb, "You are %s (@%s), in a meeting in the chat room %q.", speaker.Name, speaker.Handle, r.room.Name)
	if d := strings.TrimSpace(speaker.Description); d != "" {
		fmt.Fprintf(&sb, " Your role: %s.", strings.TrimRight(d, "."))
	}
	fmt.Fprintf(&sb, "\nTopic: %s\n", r.m.Topic)
	if others := r.participants(speaker.ID); others != "" {
		fmt.Fprintf(&sb, "The other participants: %s.", others)
	}
	fmt.Fprintf(&sb, " This is round %d of %d.", round, r.m.Rounds)
	if speaker.ID == r.chair.ID {
		sb.WriteString(" You chair the meeting.")
	}
	sb.WriteString(" People in the room may speak too; take up what they say." +
		" Messages from others are prefixed with their author's name. Stay in character, build on what was said," +
		" answer the others by name, and move the discussion towards decisions. Speak once, briefly (a few short paragraphs)," +
		" without a name prefix.")
	closing := fmt.Sprintf("(Meeting: it is your turn, %s.)", speaker.Name)
	return Prompt{System: sb.String(), Messages: conversation(r.m.Topic, es, speaker.ID, closing)}, nil
}

// decisionPrompt asks the chair who speaks next.
func (r *runner) decisionPrompt(ctx context.Context) (Prompt, error) {
	es, err := r.transcript(ctx)
	if err != nil {
		return Prompt{}, err
	}
	var sb strings.Builder
	if s := strings.TrimSpace(r.chair.AIInstructions); s != "" {
		sb.WriteString(s)
		sb.WriteString("\n\n")
	}
	fmt.Fprintf(&sb, "You are %s (@%s) and you chair a meeting on: %s\n", r.chair.Name, r.chair.Handle, r.m.Topic)
	fmt.Fprintf(&sb, "Participants: %s.\n", r.participants(0))
	fmt.Fprintf(&sb, "%d of at most %d turns are taken. After each turn you decide who speaks next (by handle, yourself included),"+
		" or that the meeting is done because it reached its decisions. Answer only with the decision.", r.m.Turns, r.maxTurns())
	return Prompt{System: sb.String(), Messages: conversation(r.m.Topic, es, r.chair.ID, "(Chair: who speaks next, or is the meeting done?)")}, nil
}

// minutesPrompt asks the chair for the minutes.
func (r *runner) minutesPrompt(ctx context.Context) (Prompt, error) {
	es, err := r.transcript(ctx)
	if err != nil {
		return Prompt{}, err
	}
	var sb strings.Builder
	if s := strings.TrimSpace(r.chair.AIInstructions); s != "" {
		sb.WriteString(s)
		sb.WriteString("\n\n")
	}
	fmt.Fprintf(&sb, "You are %s (@%s) and you write the minutes of the meeting on: %s\n", r.chair.Name, r.chair.Handle, r.m.Topic)
	fmt.Fprintf(&sb, "Participants: %s.\n", r.participants(0))
	sb.WriteString("Write the minutes from the discussion only: a short summary, the decisions taken, the action items" +
		" (owner: a participant's name or a person's, the task, and when it is due as the meeting said, or empty)," +
		" and the questions left open. Do not invent what was not said.")
	return Prompt{System: sb.String(), Messages: conversation(r.m.Topic, es, r.chair.ID, "(Write the minutes of the meeting.)")}, nil
}

// Decision is the chair's answer after a turn.
type Decision struct {
	Done   bool
	NextID int64
}

// decisionSchema is the JSON schema of the chair's decision: next is the
// handle of a participant ("" when done).
func decisionSchema(roles []store.Role) Schema {
	handles := make([]any, 0, len(roles)+1)
	for _, x := range roles {
		handles = append(handles, x.Handle)
	}
	handles = append(handles, "")
	return Schema{Name: "next_speaker", Description: "Decide who speaks next in the meeting, or that it is done.",
		JSON: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"done":   map[string]any{"type": "boolean", "description": "true when the meeting reached its decisions and should end now"},
				"next":   map[string]any{"type": "string", "enum": handles, "description": "handle of the participant who speaks next (empty when done)"},
				"reason": map[string]any{"type": "string", "description": "one short sentence: why"},
			},
			"required":             []any{"done", "next", "reason"},
			"additionalProperties": false,
		}}
}

// parseDecision reads a decision; an unknown speaker is an error.
func parseDecision(raw json.RawMessage, roles []store.Role) (Decision, error) {
	var d struct {
		Done *bool  `json:"done"`
		Next string `json:"next"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return Decision{}, fmt.Errorf("not the JSON asked for: %w", err)
	}
	if d.Done != nil && *d.Done {
		return Decision{Done: true}, nil
	}
	h := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d.Next), "@"))
	if h == "" {
		return Decision{}, errors.New("neither done nor a next speaker")
	}
	for _, x := range roles {
		if strings.ToLower(x.Handle) == h {
			return Decision{NextID: x.ID}, nil
		}
	}
	return Decision{}, fmt.Errorf("next speaker @%s is not a participant", h)
}

// minutesSchema is the JSON schema of the minutes (api.MeetingMinutes).
func minutesSchema() Schema {
	str := map[string]any{"type": "string"}
	list := map[string]any{"type": "array", "items": str}
	return Schema{Name: "meeting_minutes", Description: "The minutes of the meeting.",
		JSON: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"summary":   map[string]any{"type": "string", "description": "what the meeting discussed and concluded, in a few sentences"},
				"decisions": list,
				"action_items": map[string]any{"type": "array", "items": map[string]any{
					"type": "object",
					"properties": map[string]any{
						"owner": map[string]any{"type": "string", "description": "a participant's name or a person's username"},
						"task":  str,
						"due":   map[string]any{"type": "string", "description": "when, as the meeting said it; empty when not said"},
					},
					"required":             []any{"owner", "task", "due"},
					"additionalProperties": false,
				}},
				"open_questions": list,
			},
			"required":             []any{"summary", "decisions", "action_items", "open_questions"},
			"additionalProperties": false,
		}}
}

// RenderMinutes writes minutes as the Markdown of the minutes message:
// sections Summary, Decisions, Action items and Open questions.
func RenderMinutes(topic string, mm api.MeetingMinutes) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# Minutes: %s\n\n## Summary\n\n%s\n\n## Decisions\n\n", oneLine(topic), strings.TrimSpace(mm.Summary))
	bullets(&sb, mm.Decisions)
	sb.WriteString("\n## Action items\n\n")
	if len(mm.ActionItems) == 0 {
		sb.WriteString("- None.\n")
	}
	for _, a := range mm.ActionItems {
		fmt.Fprintf(&sb, "- **%s**: %s", oneLine(a.Owner), oneLine(a.Task))
		if d := oneLine(a.Due); d != "" {
			fmt.Fprintf(&sb, " (due: %s)", d)
		}
		sb.WriteString("\n")
	}
	sb.WriteString("\n## Open questions\n\n")
	bullets(&sb, mm.OpenQuestions)
	return strings.TrimRight(sb.String(), "\n")
}

func bullets(sb *strings.Builder, items []string) {
	if len(items) == 0 {
		sb.WriteString("- None.\n")
	}
	for _, it := range items {
		fmt.Fprintf(sb, "- %s\n", oneLine(it))
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
