package tui

import (
	"strconv"
	"strings"
	"time"

	"github.com/virtual-company/vc/pkg/api"
)

// presenceBurst is a run of join and leave events with no message between
// them, shown as one line ("ada, bob and 3 others joined · carol left").
type presenceBurst struct {
	order []string          // users in the order they first appeared
	verb  map[string]string // each user's latest: "joined" or "left"
	last  time.Time
}

func (b *presenceBurst) add(user, verb string, at time.Time) {
	if b.verb == nil {
		b.verb = map[string]string{}
	}
	if _, ok := b.verb[user]; !ok {
		b.order = append(b.order, user)
	}
	b.verb[user] = verb
	b.last = at
}

// text is the burst's line.
func (b *presenceBurst) text() string {
	var parts []string
	for _, verb := range []string{"joined", "left"} {
		var who []string
		for _, u := range b.order {
			if b.verb[u] == verb {
				who = append(who, u)
			}
		}
		if len(who) > 0 {
			parts = append(parts, nameList(who)+" "+verb)
		}
	}
	return "· " + strings.Join(parts, " · ")
}

// nameList is "ada", "ada and bob", "ada, bob and carol", or
// "ada, bob and 3 others".
func nameList(names []string) string {
	switch n := len(names); {
	case n == 1:
		return names[0]
	case n <= 3:
		return strings.Join(names[:n-1], ", ") + " and " + names[n-1]
	default:
		return names[0] + ", " + names[1] + " and " + strconv.Itoa(n-2) + " others"
	}
}

// presence adds a join or leave to the newest burst when nothing but other
// joins and leaves came since (within groupGap), else starts a new one.
func (tl *timeline) presence(user, verb string, at time.Time) {
	if i := len(tl.entries) - len(tl.tail()) - 1; i >= 0 {
		if e := tl.entries[i]; e.burst != nil && at.Sub(e.burst.last) <= groupGap {
			e.burst.add(user, verb, at)
			e.text = e.burst.text()
			e.invalidate()
			return
		}
	}
	b := &presenceBurst{}
	b.add(user, verb, at)
	tl.insert(&entry{kind: entryEvent, burst: b, text: b.text(), msg: api.Message{Timestamp: at}})
}

// removeBursts drops every join/leave line (/set joins off).
func (tl *timeline) removeBursts() {
	kept := tl.entries[:0]
	for _, e := range tl.entries {
		if e.burst == nil {
			kept = append(kept, e)
		} else if tl.hl == e {
			tl.hl = nil
		}
	}
	for i := len(kept); i < len(tl.entries); i++ {
		tl.entries[i] = nil
	}
	tl.entries = kept
	for _, e := range tl.entries {
		e.invalidate() // headers may group differently now
	}
	tl.clamp()
}
