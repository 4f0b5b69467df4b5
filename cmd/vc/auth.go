package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/virtual-company/vc/client"
	"github.com/virtual-company/vc/pkg/api"
)

func newAuthCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Register, log in and out, and show who you are",
		Long: `Manage accounts and credentials. A successful login stores a profile (server
and username) in the config file and the token in the OS keyring, or in a
file with mode 0600 when there is no keyring.`,
		Example: `  vc auth register --server http://127.0.0.1:8000
  echo "$PASSWORD" | vc auth login --username alice --password-stdin
  vc auth status`,
	}
	cmd.AddCommand(newRegisterCmd(a), newLoginCmd(a), newLogoutCmd(a), newStatusCmd(a), newTokenCmd(a),
		newAuthListCmd(a), newAuthSwitchCmd(a))
	return cmd
}

type loginFlags struct {
	username      string
	email         string
	name          string
	passwordStdin bool
	withToken     bool
}

// password returns the password from stdin (--password-stdin) or a no-echo
// prompt.
func (a *app) password(ctx context.Context, f *loginFlags) (string, error) {
	if f.passwordStdin {
		return a.readSecretStdin("the password")
	}
	return a.promptSecret(ctx, "Password", "--password-stdin")
}

// minPasswordLen is vcd's shortest password, in characters
// (server/service.MinPasswordLen): checked here too so that a person hears
// of it right after typing the password, not after the whole form.
const minPasswordLen = 8

// maxPasswordBytes is vcd's longest password (bcrypt's limit).
const maxPasswordBytes = 72

// checkPassword applies vcd's password rule.
func checkPassword(pw string) error {
	switch {
	case utf8.RuneCountInString(pw) < minPasswordLen:
		return fmt.Errorf("the password must be at least %d characters", minPasswordLen)
	case len(pw) > maxPasswordBytes:
		return fmt.Errorf("the password must be at most %d bytes", maxPasswordBytes)
	}
	return nil
}

// newPasswordTries is how many times register asks again for a password
// that breaks the rule before giving up.
const newPasswordTries = 3

// newPassword reads the password of a new account: from stdin, or on a
// terminal twice without echo, each entry checked against the rule as soon
// as it is typed.
func (a *app) newPassword(ctx context.Context, f *loginFlags) (string, error) {
	if f.passwordStdin || !a.stdinTTY {
		pw, err := a.password(ctx, f)
		if err != nil {
			return "", err
		}
		return pw, checkPassword(pw)
	}
	for try := 1; ; try++ {
		pw, err := a.promptSecret(ctx, fmt.Sprintf("Password (at least %d characters)", minPasswordLen), "--password-stdin")
		if err != nil {
			return "", err
		}
		if err := checkPassword(pw); err != nil {
			if try == newPasswordTries {
				return "", err
			}
			fmt.Fprintln(a.errOut, a.errStyles().system.Render("  "+err.Error()+": try again"))
			continue
		}
		again, err := a.promptSecret(ctx, "Password again", "--password-stdin")
		if err != nil {
			return "", err
		}
		if again != pw {
			if try == newPasswordTries {
				return "", errors.New("the passwords do not match")
			}
			fmt.Fprintln(a.errOut, a.errStyles().system.Render("  the passwords do not match: try again"))
			continue
		}
		return pw, nil
	}
}

func newRegisterCmd(a *app) *cobra.Command {
	var f loginFlags
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Create an account and log in",
		Long: `Create an account on the server and log in to it. What is missing is asked
for on a terminal; scripts pass --username, --email (and --name, which defaults
to the username) and the password on stdin with --password-stdin.`,
		Example: `  vc auth register --server http://127.0.0.1:8000
  echo "$PASSWORD" | vc auth register --username alice --email alice@example.com --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var err error
			if f.username == "" {
				if f.username, err = a.promptLine(ctx, "Username", "", "--username"); err != nil {
					return err
				}
			}
			if f.email == "" {
				if f.email, err = a.promptLine(ctx, "Email", "", "--email"); err != nil {
					return err
				}
			}
			if f.name == "" {
				if a.stdinTTY && !f.passwordStdin {
					if f.name, err = a.promptLine(ctx, "Display name", f.username, "--name"); err != nil {
						return err
					}
				} else {
					f.name = f.username
				}
			}
			pw, err := a.newPassword(ctx, &f)
			if err != nil {
				return err
			}
			c, err := a.anonClient()
			if err != nil {
				return err
			}
			stop := a.spin("Registering")
			u, err := c.Register(ctx, api.RegisterRequest{Email: f.email, Username: f.username, Name: f.name, Password: pw})
			stop()
			if err != nil {
				return fmt.Errorf("register: %w", err)
			}
			profile, err := a.login(ctx, c, u.Username, pw)
			if err != nil {
				return err
			}
			if o.enabled() {
				return a.writeJSON(&o, u, false)
			}
			fmt.Fprintf(a.out, "%s Registered %s and logged in to %s (profile %s)\n", a.outStyles().ok.Render("✓"), u.Username, c.BaseURL(), profile)
			a.sayDefaultChanged(profile)
			return nil
		},
	}
	cmd.Flags().StringVar(&f.username, "username", "", "the account's `username`")
	cmd.Flags().StringVar(&f.email, "email", "", "the account's `email` address")
	cmd.Flags().StringVar(&f.name, "name", "", "the display `name` (default: the username)")
	cmd.Flags().BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from stdin (first line)")
	addOutputFlags(cmd, &o, api.User{})
	return cmd
}

func newLoginCmd(a *app) *cobra.Command {
	var f loginFlags
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in to a server and store the profile",
		Long: `Log in and store a profile: the server, the username and the token (in the OS
keyring, or a 0600 file without one). Without --profile, logging in to the
current profile's server reuses that profile; another server gets a profile
named after its host. The profile becomes the current one.`,
		Example: `  vc login --server http://127.0.0.1:8000 --username alice
  echo "$PASSWORD" | vc login --username alice --password-stdin
  echo "$TOKEN" | vc login --with-token --profile ci`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.anonClient()
			if err != nil {
				return err
			}
			if f.withToken {
				if f.passwordStdin {
					return errors.New("--with-token and --password-stdin both read stdin: use one")
				}
				tok, err := a.readSecretStdin("the token")
				if err != nil {
					return err
				}
				c.SetToken(strings.TrimSpace(tok))
				u, err := c.Me(ctx)
				if err != nil {
					return loginError(err)
				}
				profile, err := a.storeLogin(ctx, c, u.Username)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.out, "%s Logged in as %s on %s (profile %s)\n", a.outStyles().ok.Render("✓"), u.Username, c.BaseURL(), profile)
				a.sayDefaultChanged(profile)
				return nil
			}
			if f.username == "" {
				if f.username, err = a.promptLine(ctx, "Username or email", a.profileUsername(), "--username"); err != nil {
					return err
				}
			}
			pw, err := a.password(ctx, &f)
			if err != nil {
				return err
			}
			profile, err := a.login(ctx, c, f.username, pw)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.out, "%s Logged in as %s on %s (profile %s)\n", a.outStyles().ok.Render("✓"), a.cfg.profileGet(profile, pkUsername), c.BaseURL(), profile)
			a.sayDefaultChanged(profile)
			return nil
		},
	}
	cmd.Flags().StringVar(&f.username, "username", "", "your `username` or email address")
	cmd.Flags().BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from stdin (first line)")
	cmd.Flags().BoolVar(&f.withToken, "with-token", false, "read an existing token from stdin instead of logging in")
	return cmd
}

// sayDefaultChanged tells, after a login, that it made another profile the
// default: commands without --profile now go to another account.
func (a *app) sayDefaultChanged(profile string) {
	if a.defaultWas == "" {
		return
	}
	fmt.Fprintf(a.errOut, "Profile %s is now the default (it was %s); switch back with `vc auth switch %s`.\n", profile, a.defaultWas, a.defaultWas)
}

// loginError turns a rejected login into a plain error (exit 1): a wrong
// password is not "authentication required".
func loginError(err error) error {
	if client.IsUnauthorized(err) {
		return fmt.Errorf("login failed: %s", err.Error())
	}
	return fmt.Errorf("login: %w", err)
}

// login logs c in and stores the profile; it returns the profile's name.
func (a *app) login(ctx context.Context, c *client.Client, username, password string) (string, error) {
	stop := a.spin("Logging in")
	defer stop()
	if _, err := c.Login(ctx, username, password); err != nil {
		return "", loginError(err)
	}
	u, err := c.Me(ctx)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	return a.storeLogin(ctx, c, u.Username)
}

// profileUsername is the username stored in the selected profile, if any.
func (a *app) profileUsername() string {
	p, err := a.profile()
	if err != nil || a.cfg == nil {
		return ""
	}
	return a.cfg.profileGet(p, pkUsername)
}

var nonProfileChars = regexp.MustCompile(`[^a-z0-9_-]+`)

// loginProfile picks the profile a login is stored in (see vc login --help).
func (a *app) loginProfile(server string) (string, error) {
	if a.profileFlag != "" || a.getenv("VC_PROFILE") != "" {
		return a.profile()
	}
	cfg, err := a.config()
	if err != nil {
		return "", err
	}
	cur := cfg.currentProfile()
	if cur == "" {
		cur = defaultProfile
	}
	if !cfg.hasProfile(cur) || cfg.profileGet(cur, pkServer) == "" || canonServer(cfg.profileGet(cur, pkServer)) == canonServer(server) {
		return cur, nil
	}
	host := server
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		host = u.Host
	}
	name := strings.Trim(nonProfileChars.ReplaceAllString(strings.ToLower(host), "-"), "-_")
	if err := validProfileName(name); err != nil {
		return "", fmt.Errorf("cannot name a profile after %q: pass --profile NAME", server)
	}
	return name, nil
}

// storeLogin stores c's server and token under the login profile and makes
// it current.
func (a *app) storeLogin(ctx context.Context, c *client.Client, username string) (string, error) {
	cfg, err := a.config()
	if err != nil {
		return "", err
	}
	server := c.BaseURL()
	profile, err := a.loginProfile(server)
	if err != nil {
		return "", err
	}
	if cfg.hasProfile(profile) {
		// A token an older vc stored for the profile alone belongs to the
		// profile's server so far: key it by that server before the profile
		// may move to another one.
		if err := a.tokens.adoptLegacy(profile, a.profileServer(profile)); err != nil {
			return "", err
		}
	}
	where, err := a.tokens.save(ctx, profile, server, c.Token(), cfg.v.GetString(keyTokenStore))
	if err != nil {
		return "", err
	}
	cfg.profileSet(profile, pkServer, server)
	cfg.profileSet(profile, pkUsername, username)
	cfg.profileSet(profile, pkTokenStore, where)
	prev := cfg.currentProfile()
	if prev == "" {
		prev = defaultProfile
	}
	cfg.v.Set(keyCurrentProfile, profile)
	if err := cfg.save(); err != nil {
		return "", err
	}
	if prev != profile && cfg.hasProfile(prev) {
		a.defaultWas = prev
	}
	return profile, nil
}

func newLogoutCmd(a *app) *cobra.Command {
	var everywhere, yes bool
	cmd := &cobra.Command{
		Use:   "logout",
		Short: "Forget the stored token of the profile",
		Long: `Remove the selected profile's token from the keyring or token file. With
--everywhere the server first invalidates every token of the account, on
every machine (on a terminal vc asks first; scripts pass --yes).`,
		Example: `  vc auth logout
  vc auth logout --profile work --everywhere --yes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			tok, source, err := a.token(ctx)
			if err != nil {
				return err
			}
			if everywhere {
				c, err := a.client(ctx)
				if err != nil {
					return err
				}
				if err := a.confirmDestructive(ctx, yes, "Log out everywhere: invalidate every token of the account, on every machine and in every script?"); err != nil {
					return err
				}
				if err := c.LogoutAll(ctx); err != nil {
					return fmt.Errorf("log out everywhere: %w", err)
				}
			}
			if source == storeEnv {
				fmt.Fprintln(a.errOut, "the token comes from VC_TOKEN: unset it to log out")
				return nil
			}
			profile, err := a.profile()
			if err != nil {
				return err
			}
			if tok == "" && !everywhere {
				fmt.Fprintf(a.errOut, "not logged in (profile %s)\n", profile)
				return nil
			}
			srv, err := a.server()
			if err != nil {
				return err
			}
			srv = canonServer(srv)
			if err := a.tokens.remove(ctx, profile, srv, source, srv == a.profileServer(profile)); err != nil {
				return err
			}
			if a.cfg.hasProfile(profile) {
				a.cfg.deleteProfileKey(profile, pkTokenStore)
				if err := a.cfg.save(); err != nil {
					return err
				}
			}
			fmt.Fprintf(a.out, "%s Logged out (profile %s)\n", a.outStyles().ok.Render("✓"), profile)
			return nil
		},
	}
	cmd.Flags().BoolVar(&everywhere, "everywhere", false, "invalidate every token of the account on the server first")
	addYesFlag(cmd, &yes)
	return cmd
}

// authStatus is what `vc auth status --json` prints.
type authStatus struct {
	Profile     string `json:"profile"`
	Server      string `json:"server"`
	LoggedIn    bool   `json:"logged_in"`
	UserID      int64  `json:"user_id,omitempty"`
	Username    string `json:"username,omitempty"`
	Name        string `json:"name,omitempty"`
	Email       string `json:"email,omitempty"`
	TokenSource string `json:"token_source,omitempty"`
	// TokenExpiredAt is set when the stored token has expired.
	TokenExpiredAt *time.Time `json:"token_expired_at,omitempty"`
	Profiles       []string   `json:"profiles"`
}

func newStatusCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the profile, server and account in use",
		Long: `Show the selected profile, its server and the account its token belongs to.
Exits with 4 when not logged in or when the server rejects the token.`,
		Example: `  vc auth status
  vc auth status --json username --jq .username`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := a.status(ctx)
			if err != nil {
				return err
			}
			if o.enabled() {
				if err := a.writeJSON(&o, st, false); err != nil {
					return err
				}
			} else {
				s := a.outStyles()
				current := ""
				if st.Profile == a.cfg.currentProfile() || (a.cfg.currentProfile() == "" && st.Profile == defaultProfile) {
					current = s.dim.Render(" (current)")
				}
				fmt.Fprintf(a.out, "%s%s\n", s.bold.Render("profile "+st.Profile), current)
				fmt.Fprintf(a.out, "  server:  %s\n", st.Server)
				switch {
				case st.LoggedIn:
					fmt.Fprintf(a.out, "  user:    %s (%s, id %d)\n", st.Username, st.Name, st.UserID)
					fmt.Fprintf(a.out, "  token:   %s\n", st.TokenSource)
				case st.TokenExpiredAt != nil:
					fmt.Fprintf(a.out, "  user:    %s\n", s.system.Render(expiredError(*st.TokenExpiredAt).Error()))
				case canonServer(st.Server) != a.profileServer(st.Profile):
					fmt.Fprintf(a.out, "  user:    %s\n", s.system.Render("not logged in to "+canonServer(st.Server)))
				default:
					fmt.Fprintf(a.out, "  user:    %s\n", s.system.Render("not logged in"))
				}
				if others := otherProfiles(st.Profiles, st.Profile); len(others) > 0 {
					fmt.Fprintf(a.out, "  other profiles: %s\n", strings.Join(others, ", "))
				}
			}
			if !st.LoggedIn {
				return &silentError{code: exitAuth}
			}
			return nil
		},
	}
	addOutputFlags(cmd, &o, authStatus{})
	return cmd
}

func otherProfiles(all []string, cur string) []string {
	var out []string
	for _, p := range all {
		if p != cur {
			out = append(out, p)
		}
	}
	return out
}

// status checks the selected profile's token against the server.
func (a *app) status(ctx context.Context) (authStatus, error) {
	cfg, err := a.config()
	if err != nil {
		return authStatus{}, err
	}
	p, err := a.profile()
	if err != nil {
		return authStatus{}, err
	}
	srv, err := a.server()
	if err != nil {
		return authStatus{}, err
	}
	st := authStatus{Profile: p, Server: srv, Profiles: cfg.profiles()}
	if st.Profiles == nil {
		st.Profiles = []string{}
	}
	tok, source, err := a.token(ctx)
	if err != nil {
		return authStatus{}, err
	}
	if tok == "" {
		return st, nil
	}
	exp, hasExp := tokenExpiry(tok)
	if hasExp && !exp.After(time.Now()) {
		st.TokenExpiredAt = &exp
		return st, nil
	}
	c, err := a.client(ctx)
	if err != nil {
		return authStatus{}, err
	}
	st.Server = c.BaseURL()
	u, err := c.Me(ctx)
	if client.IsUnauthorized(err) {
		var ce *client.Error
		if hasExp && errors.As(err, &ce) && strings.Contains(strings.ToLower(ce.Detail), "expired") {
			// The server's clock is ahead of ours.
			st.TokenExpiredAt = &exp
		}
		return st, nil
	}
	if err != nil {
		return authStatus{}, err
	}
	st.LoggedIn, st.UserID, st.Username, st.Name, st.Email, st.TokenSource = true, u.ID, u.Username, u.Name, u.Email, source
	return st, nil
}

func newTokenCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "token",
		Short: "Print the profile's token",
		Long: `Print the selected profile's token to stdout, for scripts that call the API
directly. This is the only command that prints a token.`,
		Example: `  curl -H "Authorization: Bearer $(vc auth token)" http://127.0.0.1:8000/api/auth/me`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(cmd.Context())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.out, c.Token())
			return err
		},
	}
}

func newWhoamiCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Print the username you are logged in as",
		Example: `  vc whoami
  vc whoami --json id,username`,
		Args: cobra.NoArgs,
		RunE: a.withClient(func(ctx context.Context, c *client.Client, args []string) error {
			u, err := c.Me(ctx)
			if err != nil {
				return err
			}
			if o.enabled() {
				return a.writeJSON(&o, u, false)
			}
			_, err = fmt.Fprintln(a.out, u.Username)
			return err
		}),
	}
	addOutputFlags(cmd, &o, api.User{})
	return cmd
}

// profileInfo is a row of `vc auth list`.
type profileInfo struct {
	Profile  string `json:"profile"`
	Server   string `json:"server"`
	Username string `json:"username"`
	Current  bool   `json:"current"`
	// HasToken says whether a token for the profile's server is stored (it
	// is not checked against the server).
	HasToken bool `json:"has_token"`
}

func newAuthListCmd(a *app) *cobra.Command {
	var o outputFlags
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the profiles: server, user, and which is current",
		Long: `List the stored profiles with their server and username, whether a token is
stored for that server, and which profile is current (used without
--profile or VC_PROFILE). Nothing is sent to any server.`,
		Example: `  vc auth list
  vc auth list --jq '.[] | select(.current) | .profile'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := a.config()
			if err != nil {
				return err
			}
			cur := cfg.currentProfile()
			if cur == "" {
				cur = defaultProfile
			}
			list := []profileInfo{}
			for _, p := range cfg.profiles() {
				srv := a.profileServer(p)
				tok, err := a.tokens.load(ctx, p, srv, cfg.profileGet(p, pkTokenStore), true)
				if err != nil {
					return err
				}
				list = append(list, profileInfo{Profile: p, Server: srv, Username: cfg.profileGet(p, pkUsername), Current: p == cur, HasToken: tok != ""})
			}
			if o.enabled() {
				return a.writeJSON(&o, list, false)
			}
			if len(list) == 0 && a.stdoutTTY {
				fmt.Fprintln(a.errOut, "No profiles yet: log in with `vc login --server URL`.")
				return nil
			}
			rows := make([][]string, len(list))
			for i, p := range list {
				mark, state := "", "logged in"
				if p.Current {
					mark = "*"
				}
				if !p.HasToken {
					state = "logged out"
				}
				rows[i] = []string{mark, p.Profile, p.Server, p.Username, state}
			}
			return a.printTable([]string{"", "PROFILE", "SERVER", "USER", "TOKEN"}, rows)
		},
	}
	addOutputFlags(cmd, &o, []profileInfo{})
	return cmd
}

func newAuthSwitchCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "switch PROFILE",
		Short: "Make another profile the current one",
		Long: `Make PROFILE the current profile: commands without --profile or VC_PROFILE
use its server and account from now on. See the profiles with vc auth list.`,
		Example: `  vc auth switch work
  vc auth switch default`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			cfg, err := a.config()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return cfg.profiles(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			name := strings.ToLower(args[0])
			if err := validProfileName(name); err != nil {
				return err
			}
			if !cfg.hasProfile(name) {
				known := cfg.profiles()
				if len(known) == 0 {
					return fmt.Errorf("no profile %q: there are none yet (log in with vc login --profile %s)", name, name)
				}
				return fmt.Errorf("no profile %q; the profiles are: %s (see vc auth list)", name, strings.Join(known, ", "))
			}
			cfg.v.Set(keyCurrentProfile, name)
			if err := cfg.save(); err != nil {
				return err
			}
			user := cfg.profileGet(name, pkUsername)
			if user == "" {
				user = "no user"
			}
			return a.done("Switched to profile %s (%s on %s)", name, user, a.profileServer(name))
		},
	}
	return cmd
}
