package tui

import (
	"strconv"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/virtual-company/vc/pkg/api"
)

// slashCommand is one command of the input line.
type slashCommand struct {
	name, args, help string
}

// slashCommands lists the commands for /help and the help overlay.
func slashCommands() []slashCommand {
	return []slashCommand{
		{"join", "ROOM", "open a room"},
		{"create", "ROOM", "new room"},
		{"seat", "ROLE", "seat a role here"},
		{"role", "[ROLE]", "one message to ROLE"},
		{"invite", "USER", "add to the room"},
		{"kick", "USER", "remove from room"},
		{"set", "NAME", "on|off: joins, bell"},
		{"meet", "TOPIC", "@roles discuss it"},
		{"minutes", "[ID]", "meeting minutes"},
		{"stop", "", "stop reply/meeting"},
		{"members", "", "toggle members"},
		{"help", "", "this help"},
		{"quit", "", "leave"},
	}
}

// command runs a slash command line ("/join general").
func (c *chatScreen) command(line string) tea.Cmd {
	fields := strings.Fields(strings.TrimPrefix(line, "/"))
	if len(fields) == 0 {
		return nil
	}
	name, args := strings.ToLower(fields[0]), fields[1:]
	arg := strings.Join(args, " ")
	switch name {
	case "join", "j":
		if arg == "" {
			c.openSwitcher()
			return nil
		}
		return c.join(arg, false)
	case "create":
		if arg == "" {
			c.notices.set("usage: /create ROOM", true)
			return nil
		}
		return c.sh.createRoomCmd(strings.TrimPrefix(arg, "#"))
	case "seat":
		r, ok := c.rooms.current()
		if !ok || arg == "" {
			c.notices.set("usage: /seat ROLE (in a room)", true)
			return nil
		}
		return c.sh.seatRoleCmd(c.conn.gen, r.ID, arg)
	case "role", "to":
		if arg == "" || arg == "off" || arg == "none" {
			c.input.target = nil
			c.notices.unstick()
			c.notices.set("messages go to the room", false)
			return nil
		}
		r, ok := findRole(c.members.roles, arg)
		if !ok {
			c.notices.set("no role "+quote(arg)+" is seated here (/seat ROLE)", true)
			return nil
		}
		c.input.target = &r
		c.notices.setSticky(roleNotice(r))
		return nil
	case "invite", "add":
		r, ok := c.rooms.current()
		if !ok || len(args) != 1 {
			c.notices.set("usage: /invite USER (in a room)", true)
			return nil
		}
		return c.sh.inviteCmd(c.conn.gen, r, c.rooms.label(), strings.TrimPrefix(args[0], "@"))
	case "kick", "remove":
		r, ok := c.rooms.current()
		if !ok || len(args) != 1 {
			c.notices.set("usage: /kick USER (in a room)", true)
			return nil
		}
		who := strings.TrimPrefix(args[0], "@")
		if m, ok := c.members.member(who); ok {
			return c.sh.kickCmd(c.conn.gen, r, c.rooms.label(), m)
		}
		c.notices.set(quote(who)+" is not a member of "+c.rooms.label(), true)
		return nil
	case "set":
		text, err := c.settings.set(args)
		if err != nil {
			c.notices.set(err.Error(), true)
			return nil
		}
		if !c.settings.joins {
			c.tl.removeBursts()
		}
		c.notices.set(text, false)
		return nil
	case "stop", "cancel":
		if m, ok := c.meeting.running(); ok && name == "stop" {
			return c.sh.stopMeetingCmd(c.rooms.items[c.rooms.cur].room.ID, m.ID)
		}
		return c.stopAI()
	case "meet", "meeting":
		r, ok := c.rooms.current()
		if !ok {
			c.notices.set("join a room first: /join ROOM", true)
			return nil
		}
		req, err := parseMeet(args, c.members.roles)
		if err != nil {
			c.notices.set(err.Error(), true)
			return nil
		}
		return c.sh.startMeetingCmd(c.conn.gen, r.ID, req)
	case "minutes":
		r, ok := c.rooms.current()
		if !ok {
			c.notices.set("join a room first: /join ROOM", true)
			return nil
		}
		var id int64
		if arg != "" {
			n, err := strconv.ParseInt(strings.TrimPrefix(arg, "#"), 10, 64)
			if err != nil || n <= 0 {
				c.notices.set("usage: /minutes [MEETING ID] (the latest meeting without one)", true)
				return nil
			}
			id = n
		}
		return c.sh.meetingCmd(c.conn.gen, r.ID, id)
	case "members", "who":
		c.members.flipped = !c.members.flipped
		c.resize()
		return nil
	case "help", "?":
		c.overlay = overlayHelp
		return nil
	case "quit", "exit", "q":
		return tea.Quit
	}
	if call := c.sh.opts.CallPanel; call != nil {
		r, _ := c.rooms.current()
		if cmd, ok := call.Command(r, name, args); ok {
			return cmd
		}
	}
	c.notices.set("unknown command /"+name+": /help lists them", true)
	return nil
}

// roleNotice is the info line after /role: it addresses one message only,
// and the line is cleared once that message is sent.
func roleNotice(r api.Role) string {
	return "your next message (only) goes to " + r.Name + " · esc or /role off cancels"
}
