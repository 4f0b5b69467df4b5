// Package config holds vcd's configuration and loads it with Viper.
// Precedence, highest first: command-line flags, environment variables
// (VCD_ prefix; nested keys join with "_", so llm.default_model is
// VCD_LLM_DEFAULT_MODEL), the config file, defaults. configs/vcd.example.yaml
// documents every key.
//
// Each section lives in its own file (llm.go, rtc.go, ...) with its struct,
// its defaults and its explicit environment bindings; Load calls them all.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix is the prefix of every environment variable vcd reads.
const EnvPrefix = "VCD"

// Config is the whole daemon configuration.
type Config struct {
	// Listen is the HTTP listen address.
	Listen string `mapstructure:"listen"`
	// DataDir holds the SQLite database, the generated secret key and other state.
	DataDir string `mapstructure:"data_dir"`
	// DatabaseURL selects the database: a postgres:// or postgresql:// URL, or
	// a SQLite file path (default: vcd.db in DataDir).
	DatabaseURL string `mapstructure:"database_url"`
	// SecretKey signs tokens and derives encryption keys; generated and kept
	// in DataDir when empty.
	SecretKey string `mapstructure:"secret_key"`
	// BcryptCost is the bcrypt work factor of stored passwords.
	BcryptCost int `mapstructure:"bcrypt_cost"`
	// TokenTTL is how long an access token is valid.
	TokenTTL time.Duration `mapstructure:"token_ttl"`
	// BodyLimit is the largest accepted request body, in bytes.
	BodyLimit int `mapstructure:"body_limit"`
	// CORSOrigins lists the origins allowed to call the API from a browser
	// besides the same origin ("*" for any).
	CORSOrigins []string `mapstructure:"cors_origins"`
	// ShutdownTimeout bounds the drain of in-flight requests on shutdown.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// GCMinHeapMiB is the heap size below which the garbage collector does
	// not run (0: Go's default; an explicit GOGC overrides it).
	GCMinHeapMiB int `mapstructure:"gc_min_heap_mib"`
	// RateLimit limits abuse-prone endpoints per client IP.
	RateLimit RateLimitConfig `mapstructure:"rate_limit"`
	// Log configures the daemon's logs.
	Log LogConfig `mapstructure:"log"`
	// Realtime tunes the chat WebSocket (realtime.go).
	Realtime RealtimeConfig `mapstructure:"realtime"`
	// LLM configures the AI providers (llm.go).
	LLM LLMConfig `mapstructure:"llm"`
	// RTC configures voice calls (rtc.go).
	RTC RTCConfig `mapstructure:"rtc"`
	// HTTP configures the HTTP server: connection limits, trusted proxies (http.go).
	HTTP HTTPConfig `mapstructure:"http"`
	// Admins lists usernames that are administrators besides those granted
	// with vcd admin grant (ops.go).
	Admins []string `mapstructure:"admins"`
	// Auth configures accounts: registration open, closed or by invite (ops.go).
	Auth AuthConfig `mapstructure:"auth"`
	// Metrics configures the Prometheus metrics listener (ops.go).
	Metrics MetricsConfig `mapstructure:"metrics"`
	// Cluster makes this vcd one node of several sharing PostgreSQL and
	// NATS (cluster.go).
	Cluster ClusterConfig `mapstructure:"cluster"`
	// Meetings tunes meetings of AI roles (meetings.go).
	Meetings MeetingsConfig `mapstructure:"meetings"`
}

// RateLimitConfig limits requests per client IP.
type RateLimitConfig struct {
	// AuthPerMinute is the number of register plus login requests one IP may
	// make per minute; 0 disables the limit.
	AuthPerMinute int `mapstructure:"auth_per_minute"`
	// MaxFailedLogins is the number of failed logins one account may have
	// per FailedLoginWindow, from any IPs; then its logins answer 429 until
	// the window ends. 0 disables the limit.
	MaxFailedLogins   int           `mapstructure:"max_failed_logins"`
	FailedLoginWindow time.Duration `mapstructure:"failed_login_window"`
}

// LogConfig configures logging.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `mapstructure:"level"`
	// Format is auto (text on a terminal, JSON otherwise), text or json.
	Format string `mapstructure:"format"`
	// Access writes one line per HTTP request (default true).
	Access bool `mapstructure:"access"`
}

// Defaults returns the configuration used when nothing is set. DataDir and
// DatabaseURL are resolved from the environment (XDG_DATA_HOME, HOME).
func Defaults() Config {
	c := Config{
		Listen:          "127.0.0.1:8000",
		DataDir:         DefaultDataDir(),
		BcryptCost:      12,
		TokenTTL:        24 * time.Hour,
		BodyLimit:       1 << 20,
		ShutdownTimeout: 10 * time.Second,
		GCMinHeapMiB:    32,
		RateLimit:       RateLimitConfig{AuthPerMinute: 20, MaxFailedLogins: 10, FailedLoginWindow: 15 * time.Minute},
		Log:             LogConfig{Level: "info", Format: "auto", Access: true},
		LLM:             defaultLLM(),
		RTC:             defaultRTC(),
		Realtime:        defaultRealtime(),
		HTTP:            defaultHTTP(),
		Auth:            defaultAuth(),
		Cluster:         defaultCluster(),
		Meetings:        defaultMeetings(),
	}
	return c
}

// DefaultDataDir is $XDG_DATA_HOME/vc, else ~/.local/share/vc, else ./vc-data.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "vc")
	}
	if h, err := os.UserHomeDir(); err == nil && h != "" {
		return filepath.Join(h, ".local", "share", "vc")
	}
	return "vc-data"
}

// DefaultConfigFiles lists where the config file is looked for when
// --config is not given, in order.
func DefaultConfigFiles() []string {
	var files []string
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		files = append(files, filepath.Join(d, "vc", "vcd.yaml"))
	} else if h, err := os.UserHomeDir(); err == nil && h != "" {
		files = append(files, filepath.Join(h, ".config", "vc", "vcd.yaml"))
	}
	return append(files, "/etc/vc/vcd.yaml")
}

// AddFlags registers the command-line flags that override config keys.
func AddFlags(fs *pflag.FlagSet) {
	d := Defaults()
	fs.String("listen", d.Listen, "address to listen on (VCD_LISTEN)")
	fs.String("data-dir", d.DataDir, "directory for the database and generated secrets (VCD_DATA_DIR)")
	fs.String("database-url", "", "postgres:// URL or SQLite file path (VCD_DATABASE_URL; default vcd.db in the data dir)")
	fs.String("log-level", d.Log.Level, "log level: debug, info, warn, error (VCD_LOG_LEVEL)")
	fs.String("log-format", d.Log.Format, "log format: auto, text, json (VCD_LOG_FORMAT)")
}

// flagKeys maps flag names to config keys.
func flagKeys() map[string]string {
	return map[string]string{
		"listen":       "listen",
		"data-dir":     "data_dir",
		"database-url": "database_url",
		"log-level":    "log.level",
		"log-format":   "log.format",
	}
}

// LoadOptions says where Load reads from.
type LoadOptions struct {
	// ConfigFile is the --config value; "" searches DefaultConfigFiles and
	// tolerates their absence.
	ConfigFile string
	// Flags holds the flags registered by AddFlags (nil: none).
	Flags *pflag.FlagSet
}

// Load builds the configuration from flags, environment, file and defaults,
// and resolves derived values (the database URL).
func Load(opts LoadOptions) (Config, error) {
	v := viper.NewWithOptions(viper.KeyDelimiter("."))
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	setDefaults(v, Defaults())
	if err := bindEnv(v); err != nil {
		return Config{}, err
	}
	if opts.Flags != nil {
		for name, key := range flagKeys() {
			if f := opts.Flags.Lookup(name); f != nil {
				if err := v.BindPFlag(key, f); err != nil {
					return Config{}, fmt.Errorf("bind flag --%s: %w", name, err)
				}
			}
		}
	}
	if err := readFile(v, opts.ConfigFile); err != nil {
		return Config{}, err
	}
	if err := checkUnknown(v.ConfigFileUsed()); err != nil {
		return Config{}, err
	}
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return Config{}, fmt.Errorf("decode configuration: %w", err)
	}
	c.Resolve()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Resolve fills derived values: the default SQLite database in DataDir.
func (c *Config) Resolve() {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir()
	}
	if rest, ok := strings.CutPrefix(c.DataDir, "~/"); ok {
		if h, err := os.UserHomeDir(); err == nil && h != "" {
			c.DataDir = filepath.Join(h, rest)
		}
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = filepath.Join(c.DataDir, "vcd.db")
	}
	c.Cluster.resolve()
}

// Validate reports configuration values that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen must not be empty"))
	}
	if c.BcryptCost < 4 || c.BcryptCost > 31 {
		errs = append(errs, fmt.Errorf("bcrypt_cost %d: must be between 4 and 31", c.BcryptCost))
	}
	if c.TokenTTL <= 0 {
		errs = append(errs, fmt.Errorf("token_ttl %s: must be positive", c.TokenTTL))
	}
	if c.BodyLimit < 1024 {
		errs = append(errs, fmt.Errorf("body_limit %d: must be at least 1024", c.BodyLimit))
	}
	if c.GCMinHeapMiB < 0 || c.GCMinHeapMiB > 1<<20 {
		errs = append(errs, fmt.Errorf("gc_min_heap_mib %d: must be between 0 (off) and 1048576", c.GCMinHeapMiB))
	}
	if c.RateLimit.AuthPerMinute < 0 {
		errs = append(errs, errors.New("rate_limit.auth_per_minute must not be negative"))
	}
	if c.RateLimit.MaxFailedLogins < 0 {
		errs = append(errs, errors.New("rate_limit.max_failed_logins must not be negative"))
	}
	if c.RateLimit.MaxFailedLogins > 0 && c.RateLimit.FailedLoginWindow <= 0 {
		errs = append(errs, errors.New("rate_limit.failed_login_window must be positive"))
	}
	switch c.Log.Format {
	case "auto", "text", "json", "":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: must be auto, text or json", c.Log.Format))
	}
	if err := validateRealtime(c.Realtime); err != nil {
		errs = append(errs, err)
	}
	if err := validateHTTP(c.HTTP); err != nil {
		errs = append(errs, err)
	}
	if err := validateAuth(c); err != nil {
		errs = append(errs, err)
	}
	if err := validateMetrics(c); err != nil {
		errs = append(errs, err)
	}
	if err := validateCluster(c); err != nil {
		errs = append(errs, err)
	}
	if err := validateMeetings(c.Meetings); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration: %w", errors.Join(errs...))
	}
	return nil
}

func readFile(v *viper.Viper, explicit string) error {
	if explicit != "" {
		v.SetConfigFile(explicit)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("read config file %s: %w", explicit, err)
		}
		return nil
	}
	for _, f := range DefaultConfigFiles() {
		if _, err := os.Stat(f); err != nil {
			continue
		}
		v.SetConfigFile(f)
		if err := v.ReadInConfig(); err != nil {
			return fmt.Errorf("read config file %s: %w", f, err)
		}
		return nil
	}
	return nil
}

// setDefaults registers every key with its default, which also lets
// AutomaticEnv find nested keys on Unmarshal.
func setDefaults(v *viper.Viper, d Config) {
	v.SetDefault("listen", d.Listen)
	v.SetDefault("data_dir", d.DataDir)
	v.SetDefault("database_url", d.DatabaseURL)
	v.SetDefault("secret_key", d.SecretKey)
	v.SetDefault("bcrypt_cost", d.BcryptCost)
	v.SetDefault("token_ttl", d.TokenTTL)
	v.SetDefault("body_limit", d.BodyLimit)
	v.SetDefault("cors_origins", d.CORSOrigins)
	v.SetDefault("shutdown_timeout", d.ShutdownTimeout)
	v.SetDefault("gc_min_heap_mib", d.GCMinHeapMiB)
	v.SetDefault("rate_limit.auth_per_minute", d.RateLimit.AuthPerMinute)
	v.SetDefault("rate_limit.max_failed_logins", d.RateLimit.MaxFailedLogins)
	v.SetDefault("rate_limit.failed_login_window", d.RateLimit.FailedLoginWindow)
	v.SetDefault("log.level", d.Log.Level)
	v.SetDefault("log.format", d.Log.Format)
	setLLMDefaults(v, d.LLM)
	setRTCDefaults(v, d.RTC)
	setRealtimeDefaults(v, d.Realtime)
	setHTTPDefaults(v, d.HTTP)
	setAuthDefaults(v, d)
	setClusterDefaults(v, d.Cluster)
	setMeetingsDefaults(v, d.Meetings)
}

// bindEnv binds the environment names that do not follow the automatic
// VCD_<KEY> rule.
func bindEnv(v *viper.Viper) error {
	return errors.Join(bindLLMEnv(v), bindRTCEnv(v))
}

// Keys lists every configuration key vcd knows (dotted, lower case).
func Keys() []string {
	v := viper.New()
	setDefaults(v, Defaults())
	return v.AllKeys()
}
