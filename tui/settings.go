package tui

import (
	"fmt"
	"sort"
	"strings"
)

// chatSettings are the /set options of a chat session.
type chatSettings struct {
	joins bool // show join and leave lines
	bell  bool // ring the bell on a mention in another room
}

func defaultSettings() chatSettings { return chatSettings{joins: true, bell: true} }

// settingNames lists the /set options with what they do.
var settingNames = map[string]string{
	"joins": "join and leave lines in the messages",
	"bell":  "terminal bell on a mention of you in another room",
}

func (s *chatSettings) flag(name string) *bool {
	switch name {
	case "joins":
		return &s.joins
	case "bell":
		return &s.bell
	}
	return nil
}

// set applies "/set NAME on|off"; with no NAME it describes every option.
func (s *chatSettings) set(args []string) (string, error) {
	if len(args) == 0 {
		names := make([]string, 0, len(settingNames))
		for n := range settingNames {
			names = append(names, n)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = n + " " + onOff(*s.flag(n))
		}
		return "settings: " + strings.Join(parts, " · ") + " (/set NAME on|off)", nil
	}
	name := strings.ToLower(args[0])
	f := s.flag(name)
	if f == nil {
		return "", fmt.Errorf("unknown setting %q: /set joins on|off, /set bell on|off", args[0])
	}
	if len(args) != 2 {
		return "", fmt.Errorf("usage: /set %s on|off (now %s)", name, onOff(*f))
	}
	switch strings.ToLower(args[1]) {
	case "on", "true", "yes", "1":
		*f = true
	case "off", "false", "no", "0":
		*f = false
	default:
		return "", fmt.Errorf("/set %s takes on or off, not %q", name, args[1])
	}
	return name + " " + onOff(*f) + ": " + settingNames[name], nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
