package tui

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/tui/keys"
	"github.com/virtual-company/vc/tui/styles"
)

// Panel widths: panels collapse below the layout thresholds (chat_view.go).
const (
	roomsWidth = 22
	membersW   = 24
)

// memberList is the members panel component: the open room's seated roles
// and members with who is online, the call slot at its top, and the
// selection (enter addresses the selected name in the input: addressMsg).
type memberList struct {
	st   *styles.Styles
	keys keys.KeyMap
	post post
	me   *api.User
	call CallPanel

	members []api.Member
	roles   []api.Role
	online  map[string]bool
	sel     int
	focused bool
	// flipped says the user toggled the panel (/members): shown on narrow
	// terminals, hidden on wide ones.
	flipped bool

	w, h int

	cacheKey   memberPanelKey // the panel's cached frame
	cacheLines []string
}

func newMemberList(st *styles.Styles, km keys.KeyMap, me *api.User, call CallPanel, p post) *memberList {
	return &memberList{st: st, keys: km, me: me, call: call, post: p, online: map[string]bool{}}
}

// SetSize sets the panel's size (without its separator column).
func (ml *memberList) SetSize(w, h int) { ml.w, ml.h = w, h }

// reset forgets the room's people (the room was left).
func (ml *memberList) reset() {
	ml.members, ml.roles = nil, nil
	ml.online = map[string]bool{}
}

// set replaces the room's people.
func (ml *memberList) set(members []api.Member, roles []api.Role) {
	ml.members, ml.roles = members, roles
	ml.online = make(map[string]bool, len(members))
	for _, m := range members {
		if m.Online {
			ml.online[m.Username] = true
		}
	}
	ml.sel = min(ml.sel, max(len(members)+len(roles)-1, 0))
}

// setOnline replaces who is online (a presence event).
func (ml *memberList) setOnline(users []string) {
	ml.online = make(map[string]bool, len(users))
	for _, u := range users {
		ml.online[u] = true
	}
}

// arrived notes that user came online; false when they already were
// (another socket of someone already here).
func (ml *memberList) arrived(user string) bool {
	if ml.online[user] {
		return false
	}
	ml.online[user] = true
	return true
}

// departed notes that user went offline.
func (ml *memberList) departed(user string) { delete(ml.online, user) }

// isMember reports whether user is a member of the room.
func (ml *memberList) isMember(user string) bool {
	for _, m := range ml.members {
		if m.Username == user {
			return true
		}
	}
	return false
}

// member finds a member by name (case-insensitive).
func (ml *memberList) member(name string) (api.Member, bool) {
	for _, m := range ml.members {
		if strings.EqualFold(m.Username, name) {
			return m, true
		}
	}
	return api.Member{}, false
}

// completionNames are the @names: seated roles' handles and members.
func (ml *memberList) completionNames() []string {
	names := make([]string, 0, len(ml.roles)+len(ml.members))
	for _, r := range ml.roles {
		names = append(names, roleHandle(r))
	}
	for _, m := range ml.members {
		if m.Username != ml.me.Username {
			names = append(names, m.Username)
		}
	}
	return names
}

// Update handles the panel's keys: ↑/↓ move, enter addresses the selected
// role or person; every other printable key goes to the input.
func (ml *memberList) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyMsg)
	if !ok || panelKey(k, ml.keys, ml.post) {
		return nil
	}
	n := len(ml.members) + len(ml.roles)
	switch {
	case keyIs(k, ml.keys.LineUp):
		ml.sel = max(ml.sel-1, 0)
	case keyIs(k, ml.keys.LineDown):
		ml.sel = min(ml.sel+1, max(n-1, 0))
	case keyIs(k, ml.keys.Select):
		var name string
		if ml.sel < len(ml.roles) {
			name = roleHandle(ml.roles[ml.sel])
		} else if i := ml.sel - len(ml.roles); i < len(ml.members) {
			name = ml.members[i].Username
		}
		if name != "" {
			ml.post(addressMsg{name: name})
		}
		ml.post(focusOn(focusInput, nil))
	}
	return nil
}

// View renders the panel.
func (ml *memberList) View() string { return strings.Join(ml.lines(), "\n") }

// memberPanelKey is what the members panel's frame depends on.
type memberPanelKey struct {
	w, h, sel int
	focused   bool
	sig       uint64
	call      string
}

// lines renders the call slot, seated roles and members: w wide, exactly h
// lines. The frame is cached: it changes far less often than frames are
// drawn (every AI delta draws one).
func (ml *memberList) lines() []string {
	w, h := ml.w, ml.h
	var call string
	if ml.call != nil {
		call = ml.call.View(w)
	}
	hash := fnv.New64a()
	for _, m := range ml.members {
		_, _ = hash.Write([]byte(m.Username))
		if ml.online[m.Username] {
			_, _ = hash.Write([]byte{1})
		}
		_, _ = hash.Write([]byte{0})
	}
	for _, r := range ml.roles {
		fmt.Fprintf(hash, "%d\x00%s\x00%s\x00%s\x00", r.ID, r.Name, r.Avatar, r.Handle)
	}
	_, _ = hash.Write([]byte(ml.me.Username))
	k := memberPanelKey{w: w, h: h, sel: ml.sel, focused: ml.focused, sig: hash.Sum64(), call: call}
	if ml.cacheLines == nil || k != ml.cacheKey {
		ml.cacheKey, ml.cacheLines = k, ml.render(w, h, call)
	}
	return ml.cacheLines
}

func (ml *memberList) render(w, h int, call string) []string {
	st := ml.st
	var lines []string
	if call != "" {
		for _, l := range strings.Split(call, "\n") {
			lines = append(lines, padRight(l, w))
		}
	}
	idx := 0
	selected := func(s string) string {
		if ml.focused && idx == ml.sel {
			return st.RoomSelected.Render(padRight("▸"+s[1:], w))
		}
		return padRight(s, w)
	}
	if len(ml.roles) > 0 {
		lines = append(lines, padRight(st.PanelTitle.Render(" Roles"), w))
		for _, r := range ml.roles {
			name := " " + avatar(r, r.Name) + " " + st.AIName.Render(r.Name)
			if hw := ansi.StringWidth(name); hw < w-2 {
				name += " " + st.Muted.Render(truncate("@"+roleHandle(r), w-hw-1))
			}
			lines = append(lines, selected(name))
			idx++
		}
	}
	members := append(ml.members[:0:0], ml.members...)
	sort.SliceStable(members, func(i, j int) bool {
		oi, oj := ml.online[members[i].Username], ml.online[members[j].Username]
		if oi != oj {
			return oi
		}
		return members[i].Username < members[j].Username
	})
	lines = append(lines, padRight(st.PanelTitle.Render(fmt.Sprintf(" Members %d/%d", len(ml.online), len(members))), w))
	for _, m := range members {
		dot := st.Offline.Render("○")
		if ml.online[m.Username] {
			dot = st.Online.Render("●")
		}
		name := m.Username
		if m.Username == ml.me.Username {
			name += " (you)"
		}
		lines = append(lines, selected(" "+dot+" "+truncate(name, w-4)))
		idx++
	}
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, strings.Repeat(" ", w))
	}
	return lines
}
