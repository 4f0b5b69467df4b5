// Package server is vcd's composition root: New wires configuration, store,
// services, the realtime and AI collaborators and the HTTP API together;
// Run serves until its context ends; Shutdown drains and closes everything.
// Tests start a whole daemon in-process through server/servertest.
package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/virtual-company/vc/server/ai"
	"github.com/virtual-company/vc/server/cluster"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/connlimit"
	"github.com/virtual-company/vc/server/httpapi"
	"github.com/virtual-company/vc/server/logctx"
	"github.com/virtual-company/vc/server/meeting"
	"github.com/virtual-company/vc/server/metrics"
	"github.com/virtual-company/vc/server/ops"
	"github.com/virtual-company/vc/server/realtime"
	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/signal"
	"github.com/virtual-company/vc/server/store/gormstore"
	"github.com/virtual-company/vc/server/webui"
)

// Version is the daemon version shown by GET / and `vcd version`; release
// builds set it with -ldflags "-X github.com/virtual-company/vc/server.Version=...".
var Version = "dev"

// Server is one vcd daemon.
type Server struct {
	cfg      config.Config
	logger   *slog.Logger
	store    *gormstore.Store
	services *service.Services
	api      *httpapi.API
	// cluster links this node to the others (nil: single node).
	cluster *clusterNode
	// lock is held on the data directory while a SQLite daemon runs, so
	// that vcd restore refuses to replace its database (nil on PostgreSQL).
	lock *ops.DataDirLock
	// metrics is nil when metrics.listen is empty (metrics off).
	metrics *metrics.Metrics
	// members answers plain posts' membership checks on a cluster node
	// (nil: single node, whose store caches memberships itself).
	members *service.MemberCache

	// closers run in reverse order after the HTTP drain, before the
	// database closes (the hub closes its sockets there).
	closers []func(ctx context.Context) error
	// quiesce runs first on shutdown, before the HTTP drain: what must stop
	// at once (new chat posts).
	quiesce []func()

	mu         sync.Mutex
	serving    bool
	listener   *connlimit.Listener // the guarded listener (nil before Serve)
	metricsSrv *metrics.Server     // the metrics listener (nil: off)
	stopOnce   sync.Once
	stopErr    error
	stopped    chan struct{}
}

// New builds a daemon from cfg: opens and migrates the database, builds the
// services and the HTTP API. It does not listen; call Run.
func New(cfg config.Config, logger *slog.Logger, opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg.Resolve()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Lines logged with a request's context carry its request_id.
	logger = slog.New(logctx.Handler(logger.Handler()))
	secret, err := cfg.Secret()
	if err != nil {
		return nil, err
	}
	var lock *ops.DataDirLock
	if !gormstore.IsPostgres(cfg.DatabaseURL) {
		if lock, err = ops.LockDataDir(cfg.DataDir); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := openStore(ctx, cfg, logger.With("component", "store"))
	if err != nil {
		_ = lock.Release()
		return nil, err
	}
	s := &Server{cfg: cfg, logger: logger, store: st, lock: lock, stopped: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			_ = st.Close()
			_ = lock.Release()
		}
	}()
	if _, err := st.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	if cfg.Metrics.Listen != "" {
		s.metrics = metrics.New(Version)
		s.metrics.WatchDatabase(dbPools(st), st.Ping)
	}
	// A cluster node counts its rate limits in the database, which every
	// node shares.
	var shared service.SharedWindows
	if cfg.Cluster.Enabled() {
		shared = st
		s.members = service.NewMemberCache(memberCacheTTL, 100_000, nil)
	}
	s.services, err = service.New(service.Deps{
		Store:      s.metrics.InstrumentStore(st),
		Secret:     secret,
		BcryptCost: cfg.BcryptCost,
		TokenTTL:   cfg.TokenTTL,
		Logger:     logger.With("component", "service"),

		NoUserCache:       cfg.Cluster.Enabled(),
		Members:           s.members,
		SharedLimits:      shared,
		Registration:      cfg.Auth.Registration,
		Audit:             logger.With("component", "audit"),
		MaxFailedLogins:   cfg.RateLimit.MaxFailedLogins,
		FailedLoginWindow: cfg.RateLimit.FailedLoginWindow,
	})
	if err != nil {
		return nil, err
	}

	node, err := s.startCluster(ctx, secret)
	if err != nil {
		return nil, err
	}
	if node != nil {
		defer func() {
			if !ok {
				node.close()
			}
		}()
	}
	p, err := s.buildParts(ctx, secret, node)
	if err != nil {
		return nil, err
	}
	if err := s.buildAPI(o, p, shared); err != nil {
		return nil, err
	}
	s.guardHTTP()
	if s.metrics != nil {
		// Bound here, so that a bad metrics.listen stops the start and
		// the address is known as soon as New returns.
		if s.metricsSrv, err = s.metrics.Listen(cfg.Metrics.Listen, logger); err != nil {
			return nil, err
		}
		logger.Info("metrics listening", "addr", s.metricsSrv.Addr().String(), "path", "/metrics")
	}
	// Last: from here on this vcd takes over meetings nobody runs.
	p.meetings.Open()
	ok = true
	return s, nil
}

// memberCacheTTL bounds how long a cluster node trusts a membership it
// was not told had ended (see service.MemberCache).
const memberCacheTTL = 10 * time.Second

// startCluster joins the cluster when cluster.nats_url is set (nil node
// otherwise): the shared secret is checked first, then the node connects.
func (s *Server) startCluster(ctx context.Context, secret []byte) (*clusterNode, error) {
	cfg, st, logger := s.cfg, s.store, s.logger
	if !cfg.Cluster.Enabled() {
		return nil, nil
	}
	keys, err := keyring(secret, cfg)
	if err != nil {
		return nil, err
	}
	if err := checkClusterSecret(ctx, st, keys, cfg.Cluster.NodeID); err != nil {
		return nil, err
	}
	// Metrics observe the bus: NATS connection state, cross-node
	// delivery latency, failed publishes.
	var hooks cluster.Hooks
	if m := s.metrics; m != nil {
		hooks = cluster.Hooks{ConnState: m.NATSConnected, Delivered: m.ClusterDelivered, PublishFailed: m.ClusterPublishFailed}
	}
	// The membership cache is used only while the node hears the others.
	metricsState := hooks.ConnState
	hooks.ConnState = func(up bool) {
		s.members.Linked(up)
		if metricsState != nil {
			metricsState(up)
		}
	}
	node, err := newClusterNode(cfg, st, hooks, logger)
	if err != nil {
		return nil, err
	}
	node.members = s.members
	s.cluster = node
	logger.Info("cluster node", "node_id", cfg.Cluster.NodeID, "subject_prefix", cfg.Cluster.SubjectPrefix)
	return node, nil
}

// parts are what the daemon is made of besides the services: the chat
// sockets, signaling, the AI parts and the meetings.
type parts struct {
	chat     *realtime.Chat
	sig      *signal.Hub
	aip      aiParts
	meetings *meeting.Engine
}

// buildParts builds the parts in dependency order: the hub (the AI replies
// publish through it), the AI parts, the meetings, the chat socket (it
// cancels AI replies), signaling (it wraps the hub). The services are the
// one cycle: every part uses them and they publish through the hub and ask
// the AI for replies, so they get their notifier, responder and model
// checker last. In a cluster the node stands between: what the services and
// the AI replies publish goes to the other nodes too, and an ai_cancel
// reaches the node running the reply.
func (s *Server) buildParts(ctx context.Context, secret []byte, node *clusterNode) (parts, error) {
	cfg, st, logger := s.cfg, s.store, s.logger
	hub := realtime.NewHub(realtimeOptions(cfg), s.services.Messages.After, logger)
	var pub ai.Publisher = hub
	if node != nil {
		node.auth, node.msgs = s.services.Auth, s.services.Messages
		pub = node
	}
	aip, err := buildAI(ctx, cfg, secret, st, s.services, pub, s.metrics, node, logger)
	if err != nil {
		hub.Close()
		return parts{}, err
	}
	// Meetings of AI roles: their turns are replies of the orchestrator,
	// so they stop (and hand their meetings over) before it closes.
	meetings := meeting.New(meeting.Deps{Store: st, Rooms: s.services.Rooms, Messages: s.services.Messages,
		Runner: aip.orch.MeetingRunner(), Notifier: pub, NodeID: cfg.Cluster.NodeID, LeaseTTL: cfg.Meetings.LeaseTTL,
		MaxFailures: cfg.Meetings.MaxFailures, Clustered: node != nil, Logger: logger})
	var canceller realtime.AICanceller = aip.orch
	if node != nil {
		node.cancel = aip.orch
		canceller = node
	}
	chat := realtime.New(realtime.Deps{Hub: hub, Auth: s.services.Auth, Rooms: s.services.Rooms,
		Messages: s.services.Messages, Canceller: canceller, Options: realtimeOptions(cfg), Logger: logger})
	sig := signal.New(signal.Options{Auth: s.services.Auth, Rooms: s.services.Rooms,
		Messages: s.services.Messages, Chat: chat, Sockets: chat, RTC: cfg.RTC, Cluster: node.signalCluster(), Logger: logger})
	s.services.SetResponder(meetings.Responder(aip.orch))
	s.services.Roles.SetModelChecker(aip.svc)
	if node != nil {
		node.chat, node.local = chat, sig.Notifier(chat)
		s.services.SetNotifier(node)
		if err := node.start(); err != nil {
			hub.Close()
			return parts{}, err
		}
		// Closed last (closers run in reverse): what commits during the
		// drain still reaches the other nodes.
		s.closers = append(s.closers, func(context.Context) error { node.close(); return nil })
	} else {
		s.services.SetNotifier(sig.Notifier(chat))
	}
	stopSweep := startRevocationSweep(s.services.Auth, s.services.Rooms, sweepSources{
		UsersWithSockets: hub.UsersWithSockets, RoomsWithSockets: hub.RoomsWithSockets, RoomsWithCalls: sig.RoomsWithCalls,
	}, logger)
	// Closers run in reverse: the sweep, signaling, the meetings, the AI
	// replies, the chat sockets, then the cluster node.
	s.closers = append(s.closers, chat.Close,
		func(context.Context) error { aip.orch.Close(); return nil },
		meetings.Close,
		func(context.Context) error { sig.Close(); return nil },
		func(context.Context) error { stopSweep(); return nil })
	s.quiesce = append(s.quiesce, chat.StopPosts)
	s.metrics.WatchRealtime(chat)
	s.metrics.WatchCalls(sig)
	return parts{chat: chat, sig: sig, aip: aip, meetings: meetings}, nil
}

// buildAPI builds the HTTP API (and the web app, when given) over the parts.
func (s *Server) buildAPI(o options, p parts, shared service.SharedWindows) error {
	cfg := s.cfg
	var web httpapi.WebApp
	if o.web != nil {
		var err error
		if web, err = webui.New(o.web); err != nil {
			return err
		}
	}
	trusted, err := cfg.HTTP.TrustedProxyPrefixes()
	if err != nil {
		return err
	}
	s.api, err = httpapi.New(httpapi.Deps{
		Services:       s.services,
		Ready:          s.store.Ping,
		Degraded:       s.degraded,
		SharedLimits:   shared,
		Logger:         s.logger,
		Version:        Version,
		BodyLimit:      cfg.BodyLimit,
		CORSOrigins:    cfg.CORSOrigins,
		AuthPerMinute:  cfg.RateLimit.AuthPerMinute,
		TrustedProxies: trusted,
		ChatSocket:     p.chat.Handler(),
		SignalSocket:   p.sig.Handler(),
		Calls:          p.sig,
		AI:             p.aip.svc,
		Seats:          p.aip.seats,
		Keys:           p.aip.keys,
		Usage:          p.aip.usage,
		Web:            web,
		Export:         &ops.Exporter{Store: s.store, Rooms: s.services.Rooms},
		AccessLog:      cfg.Log.Access,
		Metrics:        s.metrics,
		Meetings:       p.meetings,
	})
	return err
}

// OpenStore opens the configured database without migrating it. Its
// warnings go to slog.Default().
func OpenStore(ctx context.Context, cfg config.Config) (*gormstore.Store, error) {
	return openStore(ctx, cfg, nil)
}

func openStore(ctx context.Context, cfg config.Config, logger *slog.Logger) (*gormstore.Store, error) {
	cfg.Resolve()
	// A cluster node is not its database's one writer: it caches nothing.
	st, err := gormstore.Open(ctx, cfg.DatabaseURL, gormstore.Options{Logger: logger, Shared: cfg.Cluster.Enabled()})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// MetricsAddr returns the address of the metrics listener (nil: metrics
// off, or before Run).
func (s *Server) MetricsAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metricsSrv == nil {
		return nil
	}
	return s.metricsSrv.Addr()
}

// Metrics returns the daemon's metrics (nil when metrics.listen is empty).
func (s *Server) Metrics() *metrics.Metrics { return s.metrics }

// dbPools names the store's connection pools for the metrics: SQLite has a
// write and a read pool, PostgreSQL one pool ("main").
func dbPools(st *gormstore.Store) map[string]*sql.DB {
	w, werr := st.DB().DB()
	r, rerr := st.ReadDB().DB()
	switch {
	case werr != nil:
		return nil
	case rerr != nil || r == w:
		return map[string]*sql.DB{"main": w}
	}
	return map[string]*sql.DB{"write": w, "read": r}
}

// Services returns the business services (for in-process tests and tools).
func (s *Server) Services() *service.Services { return s.services }

// Store returns the database store.
func (s *Server) Store() *gormstore.Store { return s.store }

// App returns the Fiber app.
func (s *Server) App() *fiber.App { return s.api.App() }

// Run listens on the configured address and serves until ctx ends (then
// shuts down gracefully) or Shutdown is called.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on an existing listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("server: already serving")
	}
	s.serving = true
	gl := s.guardListener(ln)
	s.listener = gl
	s.mu.Unlock()

	s.logger.Info("vcd listening", "addr", ln.Addr().String(), "version", Version, "database", s.store.Dialect())
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.api.App().Listener(gl) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		return s.Shutdown(sctx)
	case <-s.stopped:
		return s.stopErr
	case err := <-serveErr:
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		_ = s.Shutdown(sctx)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	}
}

// Shutdown stops new chat posts and new connections at once, cuts idle and
// slow connections (those not serving a request), waits for requests in
// progress (until most of ctx's time is used; then cuts them), runs the
// closers (hub, AI) and closes the database. Running out of time is logged,
// not an error: what is cut was never acknowledged. It is safe to call more
// than once and from any goroutine.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.logger.Info("vcd shutting down")
		for _, f := range s.quiesce {
			f()
		}
		var errs []error
		if err := s.drainHTTP(ctx); err != nil {
			errs = append(errs, fmt.Errorf("drain http: %w", err))
		}
		for i := len(s.closers) - 1; i >= 0; i-- {
			// Running out of time cuts work nobody was told is done (an
			// ack goes out only after its commit): a warning, not a failed
			// shutdown.
			if err := s.closers[i](ctx); errors.Is(err, context.DeadlineExceeded) {
				s.logger.Warn("shutdown_timeout reached while closing", "err", err)
			} else if err != nil {
				errs = append(errs, err)
			}
		}
		s.mu.Lock()
		ms := s.metricsSrv
		s.mu.Unlock()
		if ms != nil {
			if err := ms.Close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("close metrics listener: %w", err))
			}
		}
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close database: %w", err))
		}
		_ = s.lock.Release()
		s.stopErr = errors.Join(errs...)
		close(s.stopped)
		s.logger.Info("vcd stopped")
	})
	<-s.stopped
	return s.stopErr
}
