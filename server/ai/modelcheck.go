package ai

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/virtual-company/vc/server/service"

	"github.com/virtual-company/vc/server/internal/editdist"
)

// modelListTimeout bounds the live model list read when a role's model is
// set: the request waits for it.
const modelListTimeout = 5 * time.Second

var _ service.ModelChecker = (*Service)(nil)

// CheckModel implements service.ModelChecker for role create and update:
// the provider prefix must be one this server knows, and the model must be
// in the provider's live list (read with userID's key, else the server's).
// When the list cannot be read the model is accepted with a warning.
func (s *Service) CheckModel(ctx context.Context, userID int64, model string) (string, error) {
	model = strings.TrimSpace(model)
	reg := s.orch.reg
	if i := strings.IndexByte(model, '/'); i >= 0 {
		if _, ok := reg.Get(model[:i]); !ok {
			return "", service.Invalid("model", "unknown provider %q in %q (known: %s); write provider/model, e.g. openai/gpt-4o-mini or openrouter/%s",
				model[:i], model, strings.Join(s.ProviderIDs(), ", "), model)
		}
	}
	pid, mid, err := reg.Resolve(model)
	if err != nil {
		return "", service.Invalid("model", "unknown model %q: write provider/model, e.g. openai/gpt-4o-mini", model)
	}
	e, ok := reg.Get(pid)
	if !ok {
		return "", service.Invalid("model", "provider %q is not configured on this server", pid)
	}
	if slices.Contains(e.Models, mid) {
		return "", nil // configured by the operator
	}
	name := DisplayName(pid)
	cred, ok, err := s.orch.be.UserKey(ctx, userID, pid)
	if err != nil {
		return "", fmt.Errorf("read %s key: %w", pid, err)
	}
	if !ok {
		if e.ServerKey.APIKey == "" && !e.NoKey {
			return fmt.Sprintf("The model was not checked: there is no %s key to read its model list with (add one with `vc keys add %s`).", name, pid), nil
		}
		cred = e.ServerKey
	}
	lctx, cancel := context.WithTimeout(ctx, modelListTimeout)
	defer cancel()
	live, err := s.cat.live(lctx, e.Provider, cred, false)
	if err != nil || len(live) == 0 {
		if err != nil {
			s.cat.logger.Info("model list for a role's model", "provider", pid, "user_id", userID, "err", err)
		}
		return fmt.Sprintf("The model was not checked: %s's model list could not be read right now.", name), nil
	}
	want := pid + "/" + mid
	ids := make([]string, len(live))
	for i, m := range live {
		ids[i] = m.ID
		if m.ID == want {
			return "", nil
		}
	}
	detail := fmt.Sprintf("%s does not offer %q", name, want)
	if close := closeNames(want, ids, 3); len(close) > 0 {
		detail += " (did you mean " + strings.Join(close, ", ") + "?)"
	}
	return "", service.Invalid("model", "%s", detail)
}

// closeNames returns up to n of names nearest to want by edit distance
// (ignoring case), nearest first, leaving out names too far to be a typo.
func closeNames(want string, names []string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	lw := strings.ToLower(want)
	limit := max(3, len(want)/3)
	var cs []cand
	for _, nm := range names {
		d := editdist.Levenshtein(lw, strings.ToLower(nm))
		if d <= limit || strings.Contains(strings.ToLower(nm), lw) || strings.Contains(lw, strings.ToLower(nm)) {
			cs = append(cs, cand{nm, d})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	out := make([]string, 0, n)
	for _, c := range cs {
		if len(out) == n {
			break
		}
		out = append(out, c.name)
	}
	return out
}
