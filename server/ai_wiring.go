package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/virtual-company/vc/server/ai"
	aianthropic "github.com/virtual-company/vc/server/ai/anthropic"
	aiopenai "github.com/virtual-company/vc/server/ai/openai"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/metrics"
	"github.com/virtual-company/vc/server/secrets"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/store/gormstore"
)

// aiParts are the AI collaborators of the daemon: the reply engine and its
// REST part (server/ai), and the services of seats, keys and usage
// (server/service) whose writes drop what the engine caches.
type aiParts struct {
	orch  *ai.Orchestrator
	svc   *ai.Service
	seats *service.Seats
	keys  *service.Keys
	usage *service.Usage
}

// AIRegistry builds the provider registry from the llm config section.
func AIRegistry(l config.LLMConfig) *ai.Registry {
	reg := ai.NewRegistry()
	// Calls to the base_url of a user's key reach public addresses only,
	// unless the operator allows private ones.
	var userClient *http.Client
	if !l.AllowPrivateBaseURLs {
		userClient = ai.NewUserEndpointClient()
	}
	// llm.max_retries means the same to the providers (0: none).
	retries := l.MaxRetries
	reg.Add(ai.ProviderEntry{
		Provider:  aiopenai.New(aiopenai.Config{ID: ai.ProviderOpenAI, BaseURL: l.OpenAI.BaseURL, MaxRetries: retries, UserHTTPClient: userClient}),
		ServerKey: ai.Credentials{APIKey: l.OpenAI.APIKey},
	})
	reg.Add(ai.ProviderEntry{
		Provider:  aianthropic.New(aianthropic.Config{BaseURL: l.Anthropic.BaseURL, MaxRetries: retries, UserHTTPClient: userClient}),
		ServerKey: ai.Credentials{APIKey: l.Anthropic.APIKey},
	})
	reg.Add(ai.ProviderEntry{
		Provider: aiopenai.New(aiopenai.Config{ID: ai.ProviderOpenRouter, BaseURL: l.OpenRouter.BaseURL, MaxRetries: retries,
			Headers: aiopenai.OpenRouterHeaders(l.OpenRouter.Referer, l.OpenRouter.Title), UserHTTPClient: userClient}),
		ServerKey: ai.Credentials{APIKey: l.OpenRouter.APIKey},
	})
	for _, c := range l.Custom {
		reg.Add(ai.ProviderEntry{
			Provider:  aiopenai.New(aiopenai.Config{ID: c.Name, BaseURL: c.BaseURL, MaxRetries: retries, NoAuth: c.APIKey == "", UserHTTPClient: userClient}),
			ServerKey: ai.Credentials{APIKey: c.APIKey},
			NoKey:     c.APIKey == "",
			Models:    c.Models,
		})
	}
	return reg
}

// buildAI wires the orchestrator (the services' Responder and the chat
// socket's ai_cancel handler) and the REST service of AI roles.
func buildAI(ctx context.Context, cfg config.Config, secret []byte, st *gormstore.Store, svcs *service.Services, pub ai.Publisher, m *metrics.Metrics, node *clusterNode, logger *slog.Logger) (aiParts, error) {
	l := cfg.LLM
	if err := config.ValidateLLM(l); err != nil {
		return aiParts{}, fmt.Errorf("invalid configuration: %w", err)
	}
	prev := make([][]byte, 0, len(l.PreviousSecretKeys))
	for _, p := range l.PreviousSecretKeys {
		prev = append(prev, []byte(p))
	}
	keys, err := secrets.New(secret, prev...)
	if err != nil {
		return aiParts{}, err
	}
	log := logger.With("component", "ai")
	if n, failed, err := ai.ResealKeys(ctx, st, keys); err != nil {
		return aiParts{}, fmt.Errorf("re-seal api keys: %w", err)
	} else if n > 0 || failed > 0 {
		log.Info("re-sealed stored api keys under the current secret", "resealed", n, "unreadable", failed)
	}
	reg := AIRegistry(l)
	m.InstrumentRegistry(reg)
	// A cluster node counts the reply limits in the database (leases that
	// also tell the others which replies it owns) and caches nothing the
	// other nodes may change.
	var shared ai.SharedLimits
	if node != nil {
		shared = &aiLeases{store: st, node: cfg.Cluster.NodeID}
	}
	orch := ai.New(ai.Config{
		Shared:         shared,
		NoCaches:       node != nil,
		Registry:       reg,
		Backend:        &ai.StoreBackend{Store: st, Keys: keys, Messages: svcs.Messages},
		Notifier:       pub,
		DefaultModel:   l.DefaultModel,
		AllowServerKey: l.AllowServerKey,
		Limits: ai.Limits{
			ConcurrentPerUser: l.ConcurrentPerUser, ConcurrentPerRoom: l.ConcurrentPerRoom,
			PerUserPerMinute: l.RepliesPerMinute, MaxTokens: l.MaxTokens, DefaultMaxTokens: l.DefaultMaxTokens,
			ReplyTimeout: l.ReplyTimeout, DailyTokenBudget: l.DailyTokenBudget, HistoryTokens: l.HistoryTokens,
			HistoryMessages: l.HistoryMessages, MaxHops: l.MaxHops,
		},
		Logger: logger,
	})
	svc := ai.NewService(ai.ServiceDeps{
		Services: svcs, Orchestrator: orch,
		Catalogue:            ai.NewCatalogue(reg, l.ModelCacheTTL, nil, log),
		AllowPrivateBaseURLs: l.AllowPrivateBaseURLs,
	})
	return aiParts{
		orch: orch, svc: svc,
		seats: svcs.NewSeats(st, orch),
		keys:  service.NewKeys(st, keys, svc, orch, nil),
		usage: service.NewUsage(st, orch.Limits().DailyTokenBudget, nil),
	}, nil
}
