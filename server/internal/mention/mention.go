// Package mention finds @handles in chat text: the rule by which a person's
// message calls an AI role (server/ai) and gives a role the floor in a
// meeting (server/meeting).
package mention

import (
	"regexp"
	"strings"
)

// handleRE finds @handles: a handle is letters, digits, '_', '-' and '.'
// (a trailing '.' is punctuation, not part of the handle).
var handleRE = regexp.MustCompile(`(?:^|[^A-Za-z0-9_.@-])@([A-Za-z0-9_][A-Za-z0-9_.-]*)`)

// Handles returns the lower-cased handles mentioned in text, in order,
// without duplicates.
func Handles(text string) []string {
	if !strings.Contains(text, "@") {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, m := range handleRE.FindAllStringSubmatch(text, -1) {
		h := strings.ToLower(strings.TrimRight(m[1], ".-"))
		if h != "" && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}
