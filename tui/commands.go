package tui

import (
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
		{"role", "[ROLE]", "next message only to ROLE"},
		{"stop", "", "stop AI reply"},
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
		i, ok := c.findRoom(arg)
		if !ok {
			c.setNotice("no room "+quote(arg)+" among yours: /create "+strings.TrimPrefix(arg, "#")+" makes it", true)
			return c.sh.roomsCmd()
		}
		if i == c.cur && c.stream != nil {
			c.setNotice("already in "+roomLabel(c.rooms[i].room), false)
			return nil
		}
		return c.switchTo(i)
	case "create":
		if arg == "" {
			c.setNotice("usage: /create ROOM", true)
			return nil
		}
		return c.sh.createRoomCmd(strings.TrimPrefix(arg, "#"))
	case "seat":
		r, ok := c.curRoom()
		if !ok || arg == "" {
			c.setNotice("usage: /seat ROLE (in a room)", true)
			return nil
		}
		return c.sh.seatRoleCmd(c.gen, r.ID, arg)
	case "role", "to":
		if arg == "" || arg == "off" || arg == "none" {
			c.target = nil
			c.setNotice("messages go to the room", false)
			return nil
		}
		r, ok := findRole(c.roles, arg)
		if !ok {
			c.setNotice("no role "+quote(arg)+" is seated here (/seat ROLE)", true)
			return nil
		}
		c.target = &r
		c.setNotice(roleNotice(r), false)
		return nil
	case "stop", "cancel":
		return c.stopAI()
	case "members", "who":
		c.membersFlip = !c.membersFlip
		c.resize()
		return nil
	case "help", "?":
		c.overlay = overlayHelp
		return nil
	case "quit", "exit", "q":
		return tea.Quit
	}
	if c.call != nil {
		r, _ := c.curRoom()
		if cmd, ok := c.call.Command(r, name, args); ok {
			return cmd
		}
	}
	c.setNotice("unknown command /"+name+": /help lists them", true)
	return nil
}

// roleNotice is the info line after /role: it addresses one message only,
// and the line is cleared once that message is sent.
func roleNotice(r api.Role) string {
	return "your next message (only) goes to " + r.Name + " · esc or /role off cancels"
}
