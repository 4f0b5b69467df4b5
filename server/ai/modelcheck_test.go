package ai_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/ai/aitest"
	"github.com/virtual-company/vc/server/config"
)

// Role models are checked when they are set: an unknown provider prefix
// and a model the provider's live list lacks are 422 (with close names);
// a model whose list cannot be read is saved with a warning (issue 12,
// point 14).
func TestVCD_RoleModelCheckedWhenSet(t *testing.T) {
	e := startEnv(t, func(c *config.Config) {
		// OpenRouter has a server key but cannot be reached: its list
		// cannot be read.
		c.LLM.OpenRouter.BaseURL = "http://127.0.0.1:1/v1"
		c.LLM.OpenRouter.APIKey = "sk-server-or"
	})
	ctx := context.Background()
	e.oa.SetModels(aitest.ModelInfo{ID: "gpt-4o"}, aitest.ModelInfo{ID: "gpt-4o-mini"}, aitest.ModelInfo{ID: "gpt-4.1"},
		aitest.ModelInfo{ID: "o3-mini"}, aitest.ModelInfo{ID: "text-embedding-3-large"})
	_, err := e.alice.AddKey(ctx, api.CreateKeyRequest{Provider: "openai", APIKey: "sk-alice"})
	require.NoError(t, err)

	refused := func(err error) *client.Error {
		t.Helper()
		var ce *client.Error
		require.True(t, errors.As(err, &ce), "%v", err)
		require.Equal(t, 422, ce.StatusCode, ce.Detail)
		require.Equal(t, "model", ce.Field)
		return ce
	}

	// Unknown provider prefix.
	_, err = e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "A", AIInstructions: "x", Model: "nosuch/model"})
	ce := refused(err)
	require.Contains(t, ce.Detail, `"nosuch"`)

	// A typo: not in the live list; the closest names are offered.
	_, err = e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "B", AIInstructions: "x", Model: "openai/gpt-4o-mni"})
	ce = refused(err)
	require.Contains(t, ce.Detail, "openai/gpt-4o-mini")
	require.NotContains(t, ce.Detail, "text-embedding-3-large", "only close names")

	// In the list: saved, no warning.
	r, err := e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "C", AIInstructions: "x", Model: "openai/gpt-4o-mini"})
	require.NoError(t, err)
	require.Empty(t, r.Warning)

	// Update: checked too, and a refused model leaves the role as it was.
	_, err = e.alice.UpdateRole(ctx, r.ID, api.UpdateRoleRequest{Model: ptr("openai/gpt-4.2")})
	ce = refused(err)
	require.Contains(t, ce.Detail, "openai/gpt-4.1")
	got, err := e.alice.GetRole(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, "openai/gpt-4o-mini", got.Model)
	r, err = e.alice.UpdateRole(ctx, r.ID, api.UpdateRoleRequest{Model: ptr("openai/gpt-4.1")})
	require.NoError(t, err)
	require.Equal(t, "openai/gpt-4.1", r.Model)
	require.Empty(t, r.Warning)

	// The list cannot be read (endpoint down): saved, with a warning.
	r, err = e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "D", AIInstructions: "x", Model: "openrouter/vendor/some-model"})
	require.NoError(t, err)
	require.Contains(t, r.Warning, "not checked")
	require.Contains(t, r.Warning, "OpenRouter")
	// No key at all for the provider: saved, with a warning.
	r, err = e.alice.CreateRole(ctx, api.CreateRoleRequest{Name: "E", AIInstructions: "x", Model: "anthropic/claude-nosuch"})
	require.NoError(t, err)
	require.Contains(t, r.Warning, "not checked")
	require.Zero(t, e.an.ModelListCalls())
}
