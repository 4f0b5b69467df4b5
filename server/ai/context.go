package ai

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/internal/mention"
	"github.com/virtual-company/vc/server/store"
)

// Mentions returns the lower-cased handles mentioned in text, in order,
// without duplicates (the rule is server/internal/mention's, shared with
// meetings).
func Mentions(text string) []string { return mention.Handles(text) }

// MentionedRoles returns the seated roles whose handle text mentions, in
// seating order, skipping exceptRoleID (a role never answers itself).
func MentionedRoles(text string, seated []store.Role, exceptRoleID int64) []store.Role {
	hs := Mentions(text)
	if len(hs) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, h := range hs {
		want[h] = true
	}
	var out []store.Role
	for _, r := range seated {
		if r.ID != exceptRoleID && want[strings.ToLower(r.Handle)] {
			out = append(out, r)
		}
	}
	return out
}

// ContextInput is what a reply's prompt is built from.
type ContextInput struct {
	Role     store.Role
	RoomName string
	// People are the display names of the room's members.
	People []string
	// Others are the other roles seated in the room.
	Others []store.Role
	// History are the most recent messages, oldest first, ending with the
	// message being answered.
	History []api.Message
	// HistoryTokens is the budget for History (4 characters per token).
	HistoryTokens int
}

// BuildContext returns the system prompt (the role's instructions, then a
// short room preamble) and the conversation: the newest messages that fit
// the budget, each prefixed with its author, with the role's own messages as
// assistant turns. Consecutive turns of the same side are merged and the
// conversation always starts with a user turn, as providers require.
func BuildContext(in ContextInput) (system string, msgs []ChatMessage) {
	var sb strings.Builder
	if s := strings.TrimSpace(in.Role.AIInstructions); s != "" {
		sb.WriteString(s)
		sb.WriteString("\n\n")
	}
	fmt.Fprintf(&sb, "You are %s (@%s), taking part in the chat room %q.", in.Role.Name, in.Role.Handle, in.RoomName)
	if d := strings.TrimSpace(in.Role.Description); d != "" {
		fmt.Fprintf(&sb, " Your role: %s.", strings.TrimRight(d, "."))
	}
	if len(in.People) > 0 {
		fmt.Fprintf(&sb, " People in the room: %s.", strings.Join(in.People, ", "))
	}
	if len(in.Others) > 0 {
		names := make([]string, 0, len(in.Others))
		for _, o := range in.Others {
			names = append(names, fmt.Sprintf("%s (@%s)", o.Name, o.Handle))
		}
		fmt.Fprintf(&sb, " Other AI roles in the room: %s; mention one with its @handle to hand it a question.", strings.Join(names, ", "))
	}
	sb.WriteString(" Messages from others are prefixed with their author's name. Answer as yourself, without a name prefix.")
	system = sb.String()

	budget := in.HistoryTokens * 4
	if budget <= 0 {
		budget = 16000
	}
	// Walk from the newest message back while the budget lasts; the
	// message being answered is always kept.
	var picked []ChatMessage
	used := 0
	for i := len(in.History) - 1; i >= 0; i-- {
		m := in.History[i]
		if m.MessageType == api.MessageSystem {
			continue
		}
		var turn ChatMessage
		if m.RoleID != nil && *m.RoleID == in.Role.ID && m.MessageType == api.MessageAIResponse {
			turn = ChatMessage{Role: TurnAssistant, Content: m.Content}
		} else {
			author := m.User
			if author == "" {
				author = "someone"
			}
			turn = ChatMessage{Role: TurnUser, Content: author + ": " + m.Content}
		}
		cost := len(turn.Content)
		if len(picked) > 0 && used+cost > budget {
			break
		}
		if len(picked) == 0 && cost > budget {
			turn.Content = strings.ToValidUTF8(turn.Content[len(turn.Content)-budget:], "")
			cost = budget
		}
		used += cost
		picked = append(picked, turn)
	}
	for i := len(picked) - 1; i >= 0; i-- {
		t := picked[i]
		if len(msgs) == 0 && t.Role == TurnAssistant {
			continue
		}
		if n := len(msgs); n > 0 && msgs[n-1].Role == t.Role {
			msgs[n-1].Content += "\n" + t.Content
			continue
		}
		msgs = append(msgs, t)
	}
	if len(msgs) == 0 || msgs[len(msgs)-1].Role != TurnUser {
		// The newest turn must be the user's: ask the role to go on.
		msgs = append(msgs, ChatMessage{Role: TurnUser, Content: "(continue)"})
	}
	return system, msgs
}

// fingerprint identifies a credential without revealing it.
func fingerprint(c Credentials) string {
	h := sha256.Sum256([]byte(c.APIKey + "\x00" + c.BaseURL))
	return hex.EncodeToString(h[:8])
}
