package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

// maxPromptBytes bounds what vc ask reads from stdin.
const maxPromptBytes = 1 << 20

// assistantHandle is the role vc ask seats in a conversation when no role is
// given and none is seated or configured.
const assistantHandle = "assistant"

// askResult is what `vc ask --json` prints.
type askResult struct {
	Content   string     `json:"content"`
	Model     string     `json:"model,omitempty"`
	Usage     *api.Usage `json:"usage,omitempty"`
	RoomID    int64      `json:"room_id,omitempty"`
	MessageID int64      `json:"message_id,omitempty"`
}

type askFlags struct {
	role, model, room string
	cont, raw         bool
}

func newAskCmd(a *app) *cobra.Command {
	var f askFlags
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "ask [PROMPT]",
		Short: "Ask an AI role or model and stream the answer",
		Long: `Ask for an AI answer and stream it to stdout as it is written. When stdin is
piped it is appended to the prompt as context. --role answers as one of your
roles (default: the profile's default_role), -m picks the model.

A plain ask is one-shot. Conversations are kept as private rooms between you
and the role: --room NAME continues (or starts) the conversation in room NAME,
-c continues the last conversation (or starts one). Without --role a
conversation uses the role seated in the room, else your "assistant" role,
created on first use.

--raw prints the answer exactly, without header, usage line or final newline.
Ctrl-C stops the answer on the server too.`,
		Example: `  vc ask "what is a mutex?"
  git diff | vc ask --role reviewer "review this"
  vc ask --room design --role architect "how should we shard rooms?"
  vc ask -c "and how would we migrate?"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if f.cont && f.room != "" {
				return errors.New("-c continues the last conversation and --room names one: use one")
			}
			prompt, err := a.askPrompt(ctx, args)
			if err != nil {
				return err
			}
			c, err := a.client(ctx)
			if err != nil {
				return err
			}
			cfg, _ := a.config()
			profile, err := a.profile()
			if err != nil {
				return err
			}
			if f.role == "" {
				f.role = cfg.profileGet(profile, pkDefaultRole)
			}
			if f.model == "" {
				f.model = cfg.profileGet(profile, pkDefaultModel)
			}
			p := &replyPrinter{a: a, st: a.outStyles(), enabled: !o.enabled(), raw: f.raw}
			var res askResult
			if f.cont || f.room != "" {
				res, err = a.askInRoom(ctx, c, &f, prompt, p)
			} else {
				res, err = a.askOnce(ctx, c, &f, prompt, p)
			}
			if err != nil {
				return err
			}
			if o.enabled() {
				return a.writeJSON(&o, res, false)
			}
			if !f.raw && a.stderrTTY && res.Usage != nil {
				fmt.Fprintln(a.errOut, a.errStyles().dim.Render(fmt.Sprintf("%s · %d tokens in, %d out", res.Model, res.Usage.InputTokens, res.Usage.OutputTokens)))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.role, "role", "", "answer as `ROLE` (one of your roles)")
	fl.StringVarP(&f.model, "model", "m", "", "the `model` to use (see vc models)")
	fl.BoolVarP(&f.cont, "continue", "c", false, "continue the last conversation")
	fl.StringVar(&f.room, "room", "", "continue or start the conversation kept in room `NAME`")
	fl.BoolVar(&f.raw, "raw", false, "print the answer only, without decoration")
	addOutputFlags(cmd, &o, askResult{})
	return cmd
}

// askPrompt is the PROMPT argument with piped stdin appended as context.
func (a *app) askPrompt(ctx context.Context, args []string) (string, error) {
	prompt := strings.TrimSpace(strings.Join(args, " "))
	if !a.stdinTTY {
		in, err := a.readStdin(maxPromptBytes)
		if err != nil {
			return "", err
		}
		if in = strings.TrimRight(in, "\r\n"); strings.TrimSpace(in) != "" {
			if prompt == "" {
				prompt = in
			} else {
				prompt += "\n\n" + in
			}
		}
	}
	if prompt == "" {
		if !a.stdinTTY {
			return "", errors.New("no prompt: pass PROMPT as an argument or pipe it on stdin")
		}
		s, err := a.promptLine(ctx, "Prompt", "", "a PROMPT argument")
		if err != nil {
			return "", err
		}
		prompt = s
	}
	if prompt == "" {
		return "", errors.New("the prompt is empty")
	}
	return prompt, nil
}

// askOnce streams a one-shot answer from POST /api/llm/generate.
func (a *app) askOnce(ctx context.Context, c *client.Client, f *askFlags, prompt string, p *replyPrinter) (askResult, error) {
	req := api.GenerateRequest{Prompt: prompt, Model: f.model}
	header := f.model
	if f.role != "" {
		role, err := resolveRole(ctx, c, f.role, nil)
		if err != nil {
			return askResult{}, err
		}
		req.RoleID = &role.ID
		header = role.Name
	}
	stop := a.spin("Thinking")
	defer stop()
	var res askResult
	var sb strings.Builder
	err := c.GenerateStream(ctx, req, func(ch api.GenerateChunk) error {
		if ch.Model != "" {
			res.Model = ch.Model
		}
		if ch.Delta != "" {
			stop()
			h := header
			if h == "" {
				h = res.Model
			}
			p.start(h)
			sb.WriteString(ch.Delta)
			p.delta(ch.Delta)
		}
		if ch.Done {
			res.Usage = ch.Usage
		}
		return nil
	})
	stop()
	if err != nil {
		if p.started {
			p.finish("")
		}
		if ctx.Err() != nil {
			return askResult{}, ctx.Err()
		}
		return askResult{}, fmt.Errorf("ask: %w", err)
	}
	p.start(header)
	p.finish("")
	res.Content = sb.String()
	return res, nil
}

// askInRoom sends the prompt into a private conversation room with the role
// seated and streams the reply from the room's stream.
func (a *app) askInRoom(ctx context.Context, c *client.Client, f *askFlags, prompt string, p *replyPrinter) (askResult, error) {
	profile, err := a.profile()
	if err != nil {
		return askResult{}, err
	}
	cfg, err := a.config()
	if err != nil {
		return askResult{}, err
	}
	room, err := a.conversationRoom(ctx, c, f, cfg.profileGet(profile, pkLastConversation))
	if err != nil {
		return askResult{}, err
	}
	role, err := a.conversationRole(ctx, c, f, room)
	if err != nil {
		return askResult{}, err
	}
	cfg.profileSet(profile, pkLastConversation, room.ID)
	if err := cfg.save(); err != nil {
		return askResult{}, err
	}
	p.onStart = nil
	req := api.CreateMessageRequest{Content: prompt, RoleID: &role.ID, Model: f.model, ClientID: newClientID()}
	reply, err := a.sendAndStreamWith(ctx, c, room, req, p)
	if err != nil {
		return askResult{}, err
	}
	return askResult{Content: reply.Content, RoomID: room.ID, MessageID: reply.ID, Model: f.model}, nil
}

// conversationRoom finds the room of a conversation: --room NAME (created
// when missing), else the last conversation, else a new one.
func (a *app) conversationRoom(ctx context.Context, c *client.Client, f *askFlags, last string) (api.Room, error) {
	name := f.room
	if name == "" && last != "" {
		if id, err := strconv.ParseInt(last, 10, 64); err == nil && id > 0 {
			r, err := c.GetRoom(ctx, id)
			if err == nil {
				return r, nil
			}
			if !client.IsNotFound(err) {
				return api.Room{}, fmt.Errorf("last conversation (room %d): %w", id, err)
			}
		}
	}
	if name != "" {
		rooms, err := c.ListRooms(ctx)
		if err != nil {
			return api.Room{}, fmt.Errorf("list rooms: %w", err)
		}
		switch m := matchByName(rooms, name, func(r api.Room) []string { return []string{r.Name} }); len(m) {
		case 1:
			return m[0], nil
		case 0:
		default:
			return api.Room{}, fmt.Errorf("room name %q is ambiguous: rename one of them", name)
		}
	} else {
		name = "ask-" + time.Now().Format("20060102-150405")
	}
	r, err := c.CreateRoom(ctx, name)
	if err != nil {
		return api.Room{}, fmt.Errorf("start conversation %q: %w", name, err)
	}
	return r, nil
}

// conversationRole finds the role that answers in room and seats it.
func (a *app) conversationRole(ctx context.Context, c *client.Client, f *askFlags, room api.Room) (api.Role, error) {
	seated, err := c.ListRoomRoles(ctx, room.ID)
	if err != nil {
		return api.Role{}, fmt.Errorf("list roles of %q: %w", room.Name, err)
	}
	var role api.Role
	switch {
	case f.role != "":
		if role, err = resolveRole(ctx, c, f.role, nil); err != nil {
			return api.Role{}, err
		}
	case len(seated) > 0:
		return seated[0], nil
	default:
		if role, err = a.assistantRole(ctx, c); err != nil {
			return api.Role{}, err
		}
	}
	for _, r := range seated {
		if r.ID == role.ID {
			return role, nil
		}
	}
	if _, err := c.SeatRole(ctx, room.ID, role.ID); err != nil {
		return api.Role{}, fmt.Errorf("seat %q in %q: %w", role.Name, room.Name, err)
	}
	return role, nil
}

// assistantRole returns the caller's "assistant" role, creating it on first use.
func (a *app) assistantRole(ctx context.Context, c *client.Client) (api.Role, error) {
	roles, err := c.ListRoles(ctx)
	if err != nil {
		return api.Role{}, fmt.Errorf("list roles: %w", err)
	}
	for _, r := range roles {
		if r.Handle == assistantHandle {
			return r, nil
		}
	}
	r, err := c.CreateRole(ctx, api.CreateRoleRequest{Name: "Assistant", Handle: assistantHandle, Avatar: "🤖",
		Description:    "General assistant used by vc ask conversations",
		AIInstructions: "You are a helpful, concise assistant talking with a user in a terminal."})
	if err != nil {
		return api.Role{}, fmt.Errorf("create the assistant role: %w", err)
	}
	return r, nil
}
