package ops

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/virtual-company/vc/server/service"
	"github.com/virtual-company/vc/server/store"
	"github.com/virtual-company/vc/server/store/gormstore"
)

// Admin manages accounts, rooms and invites on the database directly, with
// or without a daemon running. Disabling a user and resetting a password
// bump the user's token version, the same revocation logout-all uses: a
// running daemon's revocation sweep closes the user's open sockets within
// about a second (and drops its cached row), and its REST API refuses the
// tokens once its user cache (5 s) has expired. Every action goes to the
// audit log.
type Admin struct {
	Store *gormstore.Store
	// Admins are the usernames the configuration makes admins.
	Admins []string
	// BcryptCost hashes reset passwords (0: bcrypt's default).
	BcryptCost int
	// Audit receives one line per action (nil: discarded).
	Audit *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// AdminUser is a user as vcd admin users list shows it.
type AdminUser struct {
	store.UserSummary
	// IsAdmin is true when granted in the database or listed in the config.
	IsAdmin bool
}

func (a *Admin) audit() *slog.Logger {
	if a.Audit == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Audit
}

func (a *Admin) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

// user finds a user by username, or by id when ref is a number.
func (a *Admin) user(ctx context.Context, ref string) (store.User, error) {
	u, err := a.Store.UserByUsername(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil {
			u, err = a.Store.UserByID(ctx, id)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, fmt.Errorf("no user %q", ref)
	}
	return u, err
}

func (a *Admin) configAdmin(username string) bool {
	for _, n := range a.Admins {
		if strings.EqualFold(n, username) {
			return true
		}
	}
	return false
}

// Users lists every user.
func (a *Admin) Users(ctx context.Context) ([]AdminUser, error) {
	us, err := a.Store.Users(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AdminUser, len(us))
	for i, u := range us {
		out[i] = AdminUser{UserSummary: u, IsAdmin: u.Admin || a.configAdmin(u.Username)}
	}
	return out, nil
}

// SetDisabled disables (revoking every token) or enables a user.
func (a *Admin) SetDisabled(ctx context.Context, ref string, disabled bool) (store.User, error) {
	u, err := a.user(ctx, ref)
	if err != nil {
		return u, err
	}
	if err := a.Store.SetUserDisabled(ctx, u.ID, disabled); err != nil {
		return u, err
	}
	action := "user_enable"
	if disabled {
		action = "user_disable"
	}
	a.audit().Info("admin action", "action", action, "user_id", u.ID, "username", u.Username, "by", "vcd admin")
	return u, nil
}

// Grant makes a user an admin (revoke false) or takes it back.
func (a *Admin) Grant(ctx context.Context, ref string, admin bool) (store.User, error) {
	u, err := a.user(ctx, ref)
	if err != nil {
		return u, err
	}
	if err := a.Store.SetUserAdmin(ctx, u.ID, admin); err != nil {
		return u, err
	}
	action := "admin_grant"
	if !admin {
		action = "admin_revoke"
	}
	a.audit().Info("admin action", "action", action, "user_id", u.ID, "username", u.Username, "by", "vcd admin")
	return u, nil
}

// DeleteUser deletes a user, their roles, keys and the rooms they created.
func (a *Admin) DeleteUser(ctx context.Context, ref string) (store.User, error) {
	u, err := a.user(ctx, ref)
	if err != nil {
		return u, err
	}
	if err := a.Store.DeleteUser(ctx, u.ID); err != nil {
		return u, err
	}
	a.audit().Info("admin action", "action", "user_delete", "user_id", u.ID, "username", u.Username, "by", "vcd admin")
	return u, nil
}

// ResetPassword sets a new password (generated when password is empty)
// and revokes the user's tokens; it returns the password.
func (a *Admin) ResetPassword(ctx context.Context, ref, password string) (string, error) {
	u, err := a.user(ctx, ref)
	if err != nil {
		return "", err
	}
	if password == "" {
		password = randomCode(16)
	}
	if len(password) < 8 {
		return "", errors.New("the password must have at least 8 characters")
	}
	cost := a.BcryptCost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	if err := a.Store.SetPasswordHash(ctx, u.ID, string(hash)); err != nil {
		return "", err
	}
	a.audit().Info("admin action", "action", "password_reset", "user_id", u.ID, "username", u.Username, "by", "vcd admin")
	return password, nil
}

// Rooms lists every room.
func (a *Admin) Rooms(ctx context.Context) ([]store.RoomSummary, error) {
	return a.Store.AllRooms(ctx)
}

// DeleteRoom deletes a room with its messages.
func (a *Admin) DeleteRoom(ctx context.Context, roomID int64) (store.Room, error) {
	r, err := a.Store.RoomByID(ctx, roomID)
	if errors.Is(err, store.ErrNotFound) {
		return r, fmt.Errorf("no room %d", roomID)
	}
	if err != nil {
		return r, err
	}
	if err := a.Store.DeleteRoom(ctx, roomID); err != nil {
		return r, err
	}
	a.audit().Info("admin action", "action", "room_delete", "room_id", roomID, "by", "vcd admin")
	return r, nil
}

// CreateInvite makes an invite code usable uses times until expires from
// now (0: never expires). The code is shown once; only its hash is kept.
func (a *Admin) CreateInvite(ctx context.Context, uses int, expires time.Duration) (string, store.Invite, error) {
	if uses < 1 {
		return "", store.Invite{}, errors.New("--uses must be at least 1")
	}
	code := randomCode(20)
	inv := store.Invite{CodeHash: service.HashInviteCode(code), UsesLeft: int64(uses), CreatedAt: a.now()}
	if expires > 0 {
		t := a.now().Add(expires).UTC()
		inv.ExpiresAt = &t
	}
	if err := a.Store.CreateInvite(ctx, &inv); err != nil {
		return "", inv, err
	}
	a.audit().Info("admin action", "action", "invite_create", "invite_id", inv.ID, "uses", uses, "by", "vcd admin")
	return code, inv, nil
}

// randomCode returns n random characters of base32 (no padding, lower case).
func randomCode(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:n]
}

// ParseExpiry parses a duration that may also be given in days ("7d").
func ParseExpiry(s string) (time.Duration, error) {
	if s == "" || s == "0" || s == "never" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("--expires %q: use a number of days (7d) or a duration (12h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--expires %q: use a number of days (7d) or a duration (12h)", s)
	}
	return d, nil
}
