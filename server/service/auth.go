package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/apierr"
	"github.com/virtual-company/vc/server/store"
)

// Details of authentication errors, as the seed words them.
const (
	detailBadLogin   = "Incorrect username or password"
	detailBadToken   = "Could not validate credentials"
	detailEmailTaken = "Email already registered"
	detailNameTaken  = "Username already taken"
	detailDisabled   = "This account is disabled; ask an administrator"
)

// Auth registers users, checks passwords and issues and verifies access
// tokens (JWT HS256 with sub = user id and a per-user token version that
// logout-all bumps).
type Auth struct {
	store  store.Store
	secret []byte
	cost   int
	ttl    time.Duration
	now    func() time.Time
	logger *slog.Logger

	dummyOnce sync.Once
	dummyHash []byte

	users *userCache
	// hooks tells connected clients that a user's tokens were revoked.
	hooks *hooks
	// failures limits failed logins per account (nil: no limit).
	failures *failedLogins

	registration string
	audit        *slog.Logger

	// admitted is, per user, the lowest token version a socket was admitted
	// with since the user's last revocation: the sweep compares it with the
	// database to notice revocations made without this daemon (vcd admin).
	admittedMu sync.Mutex
	admitted   map[int64]int64
}

func newAuth(d Deps) *Auth {
	cost := d.BcryptCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	cacheTTL := 5 * time.Second
	if d.NoUserCache {
		cacheTTL = 0
	}
	a := &Auth{store: d.Store, secret: d.Secret, cost: cost, ttl: d.TokenTTL, now: d.Now, logger: d.Logger,
		users:        newUserCache(cacheTTL, 10000, d.Now),
		failures:     newFailedLogins(d.MaxFailedLogins, d.FailedLoginWindow, d.Now),
		registration: d.Registration, audit: d.Audit, admitted: map[int64]int64{}}
	if a.failures != nil && d.SharedLimits != nil {
		a.failures.shared = &SharedWindow{Windows: d.SharedLimits, Scope: "failed_login", Limit: d.MaxFailedLogins,
			Window: d.FailedLoginWindow, Now: d.Now, Logger: d.Logger}
	}
	return a
}

// tokenClaims are the claims of an access token.
type tokenClaims struct {
	jwt.RegisteredClaims
	// Ver is the user's token version when the token was issued.
	Ver int64 `json:"ver"`
}

// UserOf converts a stored user to its API shape.
func UserOf(u store.User) api.User {
	return api.User{ID: u.ID, Email: u.Email, Username: u.Username, Name: u.Name, CreatedAt: u.CreatedAt.UTC()}
}

// Register creates an account.
func (a *Auth) Register(ctx context.Context, req api.RegisterRequest) (api.User, error) {
	if err := a.checkRegistration(req); err != nil {
		return api.User{}, err
	}
	if err := ValidateRegister(req); err != nil {
		return api.User{}, err
	}
	email := strings.ToLower(req.Email)
	if err := a.checkTaken(ctx, email, req.Username); err != nil {
		return api.User{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), a.cost)
	if err != nil {
		return api.User{}, internal("hash password", err)
	}
	name := req.Name
	if strings.TrimSpace(name) == "" {
		name = req.Username
	}
	u := store.User{Email: email, Username: req.Username, Name: name, PasswordHash: string(hash), CreatedAt: a.now().UTC()}
	if a.registration == RegistrationInvite {
		err = a.store.CreateUserWithInvite(ctx, &u, HashInviteCode(req.Invite), a.now())
	} else {
		err = a.store.CreateUser(ctx, &u)
	}
	if err != nil {
		if errors.Is(err, store.ErrInviteInvalid) {
			a.audit.InfoContext(ctx, "registration refused", "action", "register_refused", "username", req.Username, "reason", "invalid invite")
			return api.User{}, &Error{Kind: ErrForbidden, Detail: "The invite code is invalid, expired or used up"}
		}
		if errors.Is(err, store.ErrConflict) {
			// Lost a race with a concurrent registration: say which value.
			if err := a.checkTaken(ctx, email, req.Username); err != nil {
				return api.User{}, err
			}
			return api.User{}, &Error{Kind: apierr.Taken, Detail: detailNameTaken}
		}
		return api.User{}, internal("register", err)
	}
	a.audit.InfoContext(ctx, "user registered", "action", "register", "user_id", u.ID, "username", u.Username)
	return UserOf(u), nil
}

// checkRegistration applies auth.registration before anything else of a
// registration is looked at.
func (a *Auth) checkRegistration(req api.RegisterRequest) error {
	switch a.registration {
	case RegistrationClosed:
		return &Error{Kind: ErrForbidden, Detail: "Registration is closed; ask an administrator for an account"}
	case RegistrationInvite:
		if strings.TrimSpace(req.Invite) == "" {
			return &ValidationError{Field: "invite", Message: "is required: registration is by invite"}
		}
	}
	return nil
}

// HashInviteCode is how invite codes are stored: only their SHA-256, so a
// copy of the database does not hand out invites.
func HashInviteCode(code string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(code)))
	return hex.EncodeToString(sum[:])
}

func (a *Auth) checkTaken(ctx context.Context, email, username string) error {
	taken, err := a.store.EmailTaken(ctx, email)
	if err != nil {
		return internal("register", err)
	}
	if taken {
		return &Error{Kind: apierr.Taken, Detail: detailEmailTaken}
	}
	taken, err = a.store.UsernameTaken(ctx, username)
	if err != nil {
		return internal("register", err)
	}
	if taken {
		return &Error{Kind: apierr.Taken, Detail: detailNameTaken}
	}
	return nil
}

// dummy returns a hash to compare against when the user does not exist, so
// that a login takes as long either way.
func (a *Auth) dummy() []byte {
	a.dummyOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte("not a real password, only for timing"), a.cost)
		if err != nil {
			panic(fmt.Sprintf("bcrypt dummy hash: %v", err)) // only on an invalid cost, which config rejects
		}
		a.dummyHash = h
	})
	return a.dummyHash
}

// Login checks a username (or email) and password and issues a token. The
// answer and the time it takes do not depend on whether the user exists.
func (a *Auth) Login(ctx context.Context, req api.LoginRequest) (api.Token, error) {
	if req.Username == "" {
		return api.Token{}, Invalid("username", "is required")
	}
	if req.Password == "" {
		return api.Token{}, Invalid("password", "is required")
	}
	u, err := a.store.UserByLogin(ctx, req.Username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		u = store.User{}
	case err != nil:
		return api.Token{}, internal("login", err)
	}
	// A throttled account answers 429 even to the right password: else the
	// answer would tell a guesser when it found it.
	key := accountKey(u.ID, req.Username)
	if wait := a.failures.blocked(key); wait > 0 {
		return api.Token{}, &RateLimitError{RetryAfter: wait, Detail: "Too many failed logins for this account; try again later"}
	}
	if u.ID == 0 {
		_ = bcrypt.CompareHashAndPassword(a.dummy(), []byte(req.Password))
		a.failures.failed(key)
		a.audit.WarnContext(ctx, "login failed", "action", "login_failed", "login", req.Username, "reason", "unknown user")
		return api.Token{}, Unauthorized(detailBadLogin)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(req.Password)) != nil {
		a.failures.failed(key)
		a.audit.WarnContext(ctx, "login failed", "action", "login_failed", "login", req.Username, "user_id", u.ID, "reason", "wrong password")
		return api.Token{}, Unauthorized(detailBadLogin)
	}
	// Said only after the password matched, so that it reveals nothing to
	// someone guessing.
	if u.Disabled {
		a.audit.WarnContext(ctx, "login failed", "action", "login_failed", "login", req.Username, "user_id", u.ID, "reason", "disabled")
		return api.Token{}, Unauthorized(detailDisabled)
	}
	a.audit.InfoContext(ctx, "login", "action", "login", "user_id", u.ID, "username", u.Username)
	return a.Issue(u)
}

// Issue signs an access token for u.
func (a *Auth) Issue(u store.User) (api.Token, error) {
	now := a.now()
	exp := now.Add(a.ttl)
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.FormatInt(u.ID, 10),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		Ver: u.TokenVersion,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.secret)
	if err != nil {
		return api.Token{}, internal("sign token", err)
	}
	return api.Token{AccessToken: s, TokenType: api.TokenTypeBearer, ExpiresAt: exp.UTC().Truncate(time.Second)}, nil
}

// Authenticate verifies an access token and returns its user. Any problem
// (malformed, alg other than HS256, bad signature, expired, revoked, user
// gone) is ErrUnauthorized.
func (a *Auth) Authenticate(ctx context.Context, token string) (api.User, error) {
	u, _, err := a.authenticate(ctx, token)
	if err != nil {
		return api.User{}, err
	}
	return UserOf(u), nil
}

// AuthenticateUntil is Authenticate that also returns when the token
// expires, so that a socket opened with it can be closed then.
func (a *Auth) AuthenticateUntil(ctx context.Context, token string) (api.User, time.Time, error) {
	u, exp, ver, err := a.authenticateVer(ctx, token)
	if err != nil {
		return api.User{}, time.Time{}, err
	}
	// Sockets are admitted through here: remember the version for the sweep.
	a.admittedMu.Lock()
	if v, ok := a.admitted[u.ID]; !ok || ver < v {
		a.admitted[u.ID] = ver
	}
	a.admittedMu.Unlock()
	return UserOf(u), exp, nil
}

// authenticate verifies token and returns its user and expiry.
func (a *Auth) authenticate(ctx context.Context, token string) (store.User, time.Time, error) {
	u, exp, _, err := a.authenticateVer(ctx, token)
	return u, exp, err
}

// authenticateVer is authenticate that also returns the token's version.
func (a *Auth) authenticateVer(ctx context.Context, token string) (store.User, time.Time, int64, error) {
	if token == "" {
		return store.User{}, time.Time{}, 0, Unauthorized("Not authenticated")
	}
	var claims tokenClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return a.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.now),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return store.User{}, time.Time{}, 0, Unauthorized("Token expired")
		}
		return store.User{}, time.Time{}, 0, Unauthorized(detailBadToken)
	}
	id, err := strconv.ParseInt(claims.Subject, 10, 64)
	if err != nil || id <= 0 {
		return store.User{}, time.Time{}, 0, Unauthorized(detailBadToken)
	}
	u, err := a.users.get(ctx, a.store, id)
	if err == nil && (u.TokenVersion != claims.Ver || u.Disabled) {
		// The cached row may be older than the token (vcd admin enable, or
		// a login on another daemon): refusals are rare, so read it again.
		a.users.forget(id)
		u, err = a.users.get(ctx, a.store, id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, time.Time{}, 0, Unauthorized(detailBadToken)
	case err != nil:
		return store.User{}, time.Time{}, 0, internal("authenticate", err)
	}
	if u.TokenVersion != claims.Ver {
		return store.User{}, time.Time{}, 0, Unauthorized("Token revoked")
	}
	if u.Disabled {
		return store.User{}, time.Time{}, 0, Unauthorized(detailDisabled)
	}
	return u, claims.ExpiresAt.Time, claims.Ver, nil
}

// LogoutAll revokes every token issued to the user so far and closes the
// sockets opened with them.
func (a *Auth) LogoutAll(ctx context.Context, userID int64) error {
	_, err := a.store.BumpTokenVersion(ctx, userID)
	a.users.forget(userID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Unauthorized(detailBadToken)
		}
		return internal("logout all", err)
	}
	a.SessionsRevoked(userID)
	a.audit.InfoContext(ctx, "logout all", "action", "logout_all", "user_id", userID)
	return nil
}

// ChangePassword replaces the caller's password after checking the current
// one. Every token issued so far is revoked (and the sockets opened with
// them closed); the answer is a fresh token so the caller stays signed in.
// A wrong current password is a 422 on current_password and counts as a
// failed login of the account.
func (a *Auth) ChangePassword(ctx context.Context, userID int64, req api.ChangePasswordRequest) (api.Token, error) {
	if req.CurrentPassword == "" {
		return api.Token{}, Invalid("current_password", "is required")
	}
	if err := validatePassword("new_password", req.NewPassword); err != nil {
		return api.Token{}, err
	}
	u, err := a.confirmPassword(ctx, userID, "current_password", req.CurrentPassword, "change_password")
	if err != nil {
		return api.Token{}, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.NewPassword), a.cost)
	if err != nil {
		return api.Token{}, internal("hash password", err)
	}
	err = a.store.SetPasswordHash(ctx, userID, string(hash))
	a.users.forget(userID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return api.Token{}, Unauthorized(detailBadToken)
		}
		return api.Token{}, internal("change password", err)
	}
	a.SessionsRevoked(userID)
	a.audit.InfoContext(ctx, "password changed", "action", "change_password", "user_id", userID, "username", u.Username)
	// The version the store just bumped: read it back to sign with it.
	u, err = a.store.UserByID(ctx, userID)
	if err != nil {
		return api.Token{}, internal("change password", err)
	}
	return a.Issue(u)
}

// DeleteAccount deletes the caller's account once the password confirms
// it, with the same cleanup as vcd admin users delete (roles, keys,
// memberships, the rooms they created), then closes their sockets.
func (a *Auth) DeleteAccount(ctx context.Context, userID int64, req api.DeleteAccountRequest) error {
	if req.Password == "" {
		return Invalid("password", "is required")
	}
	u, err := a.confirmPassword(ctx, userID, "password", req.Password, "delete_account")
	if err != nil {
		return err
	}
	err = a.store.DeleteUser(ctx, userID)
	a.users.forget(userID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Unauthorized(detailBadToken)
		}
		return internal("delete account", err)
	}
	a.SessionsRevoked(userID)
	a.audit.InfoContext(ctx, "account deleted", "action", "delete_account", "user_id", userID, "username", u.Username)
	return nil
}

// confirmPassword checks the password of an authenticated user, throttled
// by the same per-account limiter as login so a stolen token cannot be
// used to guess the password.
func (a *Auth) confirmPassword(ctx context.Context, userID int64, field, password, action string) (store.User, error) {
	u, err := a.store.UserByID(ctx, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, Unauthorized(detailBadToken)
	case err != nil:
		return store.User{}, internal("check password", err)
	}
	key := accountKey(u.ID, u.Username)
	if wait := a.failures.blocked(key); wait > 0 {
		return store.User{}, &RateLimitError{RetryAfter: wait, Detail: "Too many failed password attempts for this account; try again later"}
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		a.failures.failed(key)
		a.audit.WarnContext(ctx, "password check failed", "action", action+"_failed", "user_id", u.ID, "reason", "wrong password")
		return store.User{}, Invalid(field, "is not the account's current password")
	}
	return u, nil
}

// SessionsRevoked closes the open sockets of a user whose tokens no longer
// hold (close 4001). Everything that revokes tokens calls it after the
// revocation is stored: logout-all, and a password change or the deletion
// of the account.
func (a *Auth) SessionsRevoked(userID int64) {
	a.admittedMu.Lock()
	delete(a.admitted, userID)
	a.admittedMu.Unlock()
	if a.hooks == nil {
		return
	}
	if r, ok := a.hooks.notifier.(SessionRevoker); ok {
		r.UserRevoked(userID)
	}
}

// SweepRevoked notices revocations made in the database without this
// daemon (vcd admin users disable, reset-password, delete): of the users
// that have open sockets (ids), those whose token version differs from the
// one their sockets were admitted with, who are disabled or who no longer
// exist get their sockets closed (4001) and their cached row dropped. One
// query; none when ids is empty. It returns how many users were revoked.
func (a *Auth) SweepRevoked(ctx context.Context, ids []int64) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	states, err := a.store.UserTokenStates(ctx, ids)
	if err != nil {
		return 0, internal("revocation sweep", err)
	}
	var revoked []int64
	a.admittedMu.Lock()
	for _, id := range ids {
		ver, ok := a.admitted[id]
		if !ok {
			continue // admitted before a revocation that already closed it
		}
		st, exists := states[id]
		if !exists || st.Disabled || st.TokenVersion != ver {
			revoked = append(revoked, id)
		}
	}
	a.admittedMu.Unlock()
	for _, id := range revoked {
		a.users.forget(id)
		a.SessionsRevoked(id)
		a.audit.InfoContext(ctx, "sessions revoked by the database", "action", "revocation_sweep", "user_id", id)
	}
	return len(revoked), nil
}

// UserByUsername looks a user up by username (case-insensitive).
func (a *Auth) UserByUsername(ctx context.Context, username string) (api.User, error) {
	u, err := a.store.UserByUsername(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return api.User{}, NotFound("User not found")
	case err != nil:
		return api.User{}, internal("find user", err)
	}
	return UserOf(u), nil
}

// UserByID looks a user up by id.
func (a *Auth) UserByID(ctx context.Context, id int64) (api.User, error) {
	u, err := a.store.UserByID(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return api.User{}, NotFound("User not found")
	case err != nil:
		return api.User{}, internal("find user", err)
	}
	return UserOf(u), nil
}
