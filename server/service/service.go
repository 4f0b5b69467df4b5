// Package service holds vcd's business logic: validation, authorization and
// transactions for accounts, roles, rooms and messages. Handlers (httpapi,
// realtime) call services; services call the store interfaces and tell
// connected clients about changes through a Notifier.
package service

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/virtual-company/vc/server/store"
)

// Deps are the collaborators and tunables of the services.
type Deps struct {
	Store store.Store
	// Secret signs access tokens (at least 32 bytes).
	Secret []byte
	// BcryptCost is the work factor of new password hashes.
	BcryptCost int
	// TokenTTL is the lifetime of access tokens.
	TokenTTL time.Duration
	// MaxFailedLogins failed logins of one account per FailedLoginWindow
	// are allowed; then its logins answer 429 until the window ends (0:
	// no limit).
	MaxFailedLogins   int
	FailedLoginWindow time.Duration
	// Now is the clock (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Notifier and Responder may also be set later with SetNotifier /
	// SetResponder (nil: no-op).
	Notifier  Notifier
	Responder Responder
	// Registration is open (default), closed or invite (auth.registration).
	Registration string
	// NoUserCache reads user rows from the store on every request instead
	// of keeping them for a few seconds: on a cluster node, another node
	// may change them at any time (logout-all, disable).
	NoUserCache bool
	// Members, when set, lets posts skip the membership query while it
	// knows the membership (a cluster node: see MemberCache).
	Members *MemberCache
	// SharedLimits, when set, counts the failed logins per account in it
	// (the database), so the limit holds across the nodes of a cluster.
	SharedLimits SharedWindows
	// Audit receives the audit log: logins, failed logins, registrations,
	// member changes and deletions (nil: discarded). Never secrets.
	Audit *slog.Logger
}

// Registration modes (auth.registration).
const (
	RegistrationOpen   = "open"
	RegistrationClosed = "closed"
	RegistrationInvite = "invite"
)

// Services bundles every service; they share one store and one set of hooks.
type Services struct {
	Auth     *Auth
	Rooms    *Rooms
	Roles    *Roles
	Messages *Messages
	hooks    *hooks
}

// New builds the services.
func New(d Deps) (*Services, error) {
	if d.Store == nil {
		return nil, errors.New("service: no store")
	}
	if len(d.Secret) < 16 {
		return nil, fmt.Errorf("service: secret of %d bytes is too short", len(d.Secret))
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Audit == nil {
		d.Audit = slog.New(slog.DiscardHandler)
	}
	if d.Registration == "" {
		d.Registration = RegistrationOpen
	}
	if d.TokenTTL <= 0 {
		d.TokenTTL = 24 * time.Hour
	}
	h := &hooks{notifier: NopNotifier{}, responder: NopResponder{}}
	s := &Services{hooks: h}
	s.SetNotifier(d.Notifier)
	s.SetResponder(d.Responder)
	s.Auth = newAuth(d)
	s.Auth.hooks = h
	s.Roles = &Roles{store: d.Store}
	s.Rooms = &Rooms{store: d.Store, hooks: h, auth: s.Auth, audit: d.Audit}
	s.Messages = &Messages{store: d.Store, hooks: h, rooms: s.Rooms, roles: s.Roles, auth: s.Auth, logger: d.Logger,
		members: d.Members}
	return s, nil
}

// SetNotifier replaces the notifier (nil: no-op). Call it while wiring the
// server, before it serves requests.
func (s *Services) SetNotifier(n Notifier) {
	if n == nil {
		n = NopNotifier{}
	}
	s.hooks.notifier = n
}

// SetResponder replaces the AI responder (nil: no-op). Call it while wiring
// the server, before it serves requests.
func (s *Services) SetResponder(r Responder) {
	if r == nil {
		r = NopResponder{}
	}
	s.hooks.responder = r
}

// internal wraps an unexpected store error with context.
func internal(what string, err error) error { return fmt.Errorf("%s: %w", what, err) }
