package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
)

// Exit codes, the same for every command and documented in each --help and
// the README.
const (
	ExitOK          = 0   // done
	ExitError       = 1   // a fatal error; the message says what to do
	ExitUsage       = 2   // bad flags or arguments
	ExitPartial     = 3   // finished, but some paths could not be read
	ExitNotIndexed  = 4   // a scan's events are stored, but nothing updated the index
	ExitHeld        = 5   // a scan found files gone, and the mass-delete guard deleted none
	ExitRot         = 6   // a --verify scan found content changed under unchanged metadata
	ExitLocked      = 11  // another process owns the data directory, or another scan of this machine runs
	ExitBusy        = 75  // the index's process is busy with heavy questions: retry (EX_TEMPFAIL)
	ExitInterrupted = 130 // stopped by a signal; what was stored is consistent
)

// ExitCodes is the text every --help ends with.
const ExitCodes = `Exit codes:
  0    ok
  1    fatal error
  2    usage error
  3    finished, but some paths were unreadable
  4    scanned and stored, but the index was not updated (the message says what to run)
  5    scanned, but deletions were held by the mass-delete guard (see --allow-mass-delete)
  6    --verify found bit rot (the paths are printed)
  11   data directory in use by another process, or another scan of this machine is running
  75   busy with other heavy questions: retry
  130  interrupted
`

// ErrUsage marks an error the user can fix by changing the command line.
var ErrUsage = errors.New("usage")

// ErrPartial is returned by a command that finished but could not read
// everything.
var ErrPartial = errors.New("finished with unreadable paths")

// ErrNotIndexed is returned by a scan whose events are stored but that no
// process indexed: the data directory's owner does not project the log.
// The scan did its work; the message says what brings the index up to
// date.
var ErrNotIndexed = errors.New("the index was not updated")

// ErrDeletionsHeld is returned by a scan that found recorded files gone and
// deleted none of them: the mass-delete guard held (an unmounted disk?).
var ErrDeletionsHeld = errors.New("deletions held")

// ErrBitRot is returned by a --verify scan that read content that changed
// while size, times and inode did not.
var ErrBitRot = errors.New("bit rot found")

// Usagef returns a usage error with a message.
func Usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// ExitCode maps an error to the documented exit code.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.Is(err, ErrBitRot): // the most urgent first, when a scan has several to say
		return ExitRot
	case errors.Is(err, ErrDeletionsHeld):
		return ExitHeld
	case errors.Is(err, ErrPartial):
		return ExitPartial
	case errors.Is(err, ErrNotIndexed):
		return ExitNotIndexed
	case errors.Is(err, store.ErrLocked), errors.Is(err, store.ErrConflict):
		return ExitLocked
	case errors.Is(err, store.ErrBusy):
		return ExitBusy
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	}
	return ExitError
}

// Hint returns advice for the user for err, or "".
func Hint(err error) string {
	switch {
	case errors.Is(err, store.ErrLocked):
		return "stop the other process, or point --data at another directory; a running indexer-project serves the log, and commands use it automatically"
	case errors.Is(err, store.ErrConflict):
		return "another scan of this machine is running; wait for it to finish (the lease of a scan that died on this host is taken over at once; on another host it expires 30s after it died)"
	case errors.Is(err, store.ErrUnavailable) && strings.Contains(err.Error(), "certificate"):
		return "trust the server's certificate authority with --tls-ca FILE (env INDEXER_TLS_CA)"
	case errors.Is(err, store.ErrBusy):
		return "the index's process runs as many heavy questions (regex, no --limit, every duplicate) as it allows at once: try again in a moment"
	case errors.Is(err, store.ErrCorrupt):
		return "the index file is damaged: indexer-project moves it aside and rebuilds it from the log when it starts (or run indexer-project rebuild)"
	case errors.Is(err, store.ErrAddrInUse):
		return "another process listens on that port: stop it, or choose another with --listen"
	case errors.Is(err, store.ErrUnavailable):
		return "is the NATS server running and the --server URL right?"
	case errors.Is(err, store.ErrPermission):
		return "the credential may not do this: see 'indexer-project credentials list' on the log's owner, and --creds"
	case errors.Is(err, store.ErrLogFull):
		return "the log reached its byte limit (the stream's, or JetStream's storage limit: by default 75% of the disk's free space when the server started); nothing was lost: free disk space and restart, or raise the limit (README: Operations, Log growth)"
	case errors.Is(err, ErrNoSibling):
		return "install indexer-project beside indexer or on PATH (go install ./cmd/... from the repository installs all three programs); or start 'indexer-project run' on the data directory, which commands then ask"
	case errors.Is(err, events.ErrNewerSchema):
		return "the log holds an event of a newer schema than this binary knows: run a newer indexer if there is one; otherwise 'indexer-project skip SEQ' skips it (its sequence is in the error and in indexer-project status)"
	}
	return ""
}

// Report prints err with its hint to w, in the form every command uses.
func Report(w io.Writer, cmd string, err error) {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return
	}
	msg := err.Error()
	if errors.Is(err, ErrUsage) {
		msg = strings.TrimPrefix(msg, ErrUsage.Error()+": ")
		fmt.Fprintf(w, "%s: %s\nRun '%s --help' for usage.\n", cmd, msg, cmd)
		return
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(w, "%s: interrupted\n", cmd)
		return
	}
	fmt.Fprintf(w, "%s: %s\n", cmd, msg)
	if h := Hint(err); h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}

// Config is what every command needs to find the log and the data.
type Config struct {
	DataDir string // --data, INDEXER_DATA
	Server  string // --server, INDEXER_SERVER: comma-separated NATS URLs
	// Creds is a NATS user:password for --server or the served embedded
	// server (INDEXER_NATS_USER, INDEXER_NATS_PASSWORD).
	User, Password string
	// SyncInterval of the embedded server (INDEXER_SYNC_INTERVAL).
	SyncInterval time.Duration
	// Replicas of the log's stream on a NATS cluster (--replicas,
	// INDEXER_REPLICAS): the count it is created with, or changed to in
	// place. 0 keeps an existing stream's count (1 for a new one).
	Replicas int
	// LogLevel: debug, info, warn, error (INDEXER_LOG_LEVEL).
	LogLevel string
	// LogFormat: text or json (INDEXER_LOG_FORMAT).
	LogFormat string
	AuthConfig
	HubConfig

	// envErr is the first INDEXER_* value RegisterFlags could not use, and
	// envLogLevel INDEXER_LOG_LEVEL, for Check.
	envErr      error
	envLogLevel string
}

// DefaultDataDir returns ~/.local/share/indexer (XDG_DATA_HOME honoured).
func DefaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "indexer")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "indexer-data"
	}
	return filepath.Join(home, ".local", "share", "indexer")
}

// Getenv returns the value of INDEXER_<name>, or def.
func Getenv(name, def string) string {
	if v, ok := os.LookupEnv("INDEXER_" + name); ok && v != "" {
		return v
	}
	return def
}

// RegisterFlags adds --data, --server and the log flags to fs, with
// defaults taken from the environment.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data", Getenv("DATA", DefaultDataDir()), "data `dir`ectory (env INDEXER_DATA)")
	fs.StringVar(&c.Server, "server", Getenv("SERVER", ""), "NATS server `url`s, comma-separated (every node of a cluster: a client moves to another when one stops or freezes), instead of the embedded server (env INDEXER_SERVER)")
	fs.StringVar(&c.LogLevel, "log-level", Getenv("LOG_LEVEL", "warn"), "log `level`: debug, info, warn, error (env INDEXER_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", Getenv("LOG_FORMAT", "text"), "log `format`: text or json, one object a line (env INDEXER_LOG_FORMAT)")
	c.registerAuthFlags(fs)
	c.registerHubFlags(fs)
	c.User = Getenv("NATS_USER", "")
	c.Password = Getenv("NATS_PASSWORD", "")
	c.envLogLevel = Getenv("LOG_LEVEL", "")
	c.envErr = nil
	var err error
	if c.SyncInterval, err = time.ParseDuration(Getenv("SYNC_INTERVAL", "0s")); err != nil {
		c.envErr = badEnv("SYNC_INTERVAL", "a duration such as 10s or 500ms (0: the default of 10s; negative: fsync after every write)")
	}
	if c.Replicas, err = strconv.Atoi(Getenv("REPLICAS", "0")); (err != nil || c.Replicas < 0 || c.Replicas > 5 || c.Replicas == 0 && Getenv("REPLICAS", "") != "") && c.envErr == nil {
		c.envErr = badEnv("REPLICAS", "a whole number from 1 to 5")
	}
	fs.IntVar(&c.Replicas, "replicas", c.Replicas, "`n` copies of the log on a NATS cluster (--server): creates the stream with n, or changes it to n in place; 3 on a 3-node cluster (env INDEXER_REPLICAS; default: as the stream is, 1 for a new one)")
}

// badEnv returns the usage error for the value of INDEXER_<name>; want
// says what is accepted.
func badEnv(name, want string) error {
	return Usagef("INDEXER_%s=%q: want %s", name, Getenv(name, ""), want)
}

// Check returns a usage error for the first setting in c that cannot be
// used, naming the environment variable or flag it came from. Open calls
// it; a command that does not open the log calls it after parsing its
// flags.
func (c *Config) Check() error {
	if c.envErr != nil {
		return c.envErr
	}
	if _, err := c.logLevel(); err != nil {
		if c.LogLevel == c.envLogLevel {
			return badEnv("LOG_LEVEL", logLevels)
		}
		return Usagef("--log-level %q: want %s", c.LogLevel, logLevels)
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return Usagef("--replicas %d: want a whole number from 1 to 5", c.Replicas)
	}
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		if c.LogFormat == Getenv("LOG_FORMAT", "") {
			return badEnv("LOG_FORMAT", "text or json")
		}
		return Usagef("--log-format %q: want text or json", c.LogFormat)
	}
	return nil
}

// logLevels says what LogLevel accepts.
const logLevels = "debug, info, warn or error"

// logLevel is c.LogLevel as a slog level; "" is warn.
func (c *Config) logLevel() (slog.Level, error) {
	lvl := slog.LevelWarn
	if c.LogLevel == "" {
		return lvl, nil
	}
	err := lvl.UnmarshalText([]byte(c.LogLevel))
	return lvl, err
}

// Logger returns the slog logger for c.LogLevel, writing text (or JSON
// lines, c.LogFormat) to w. A level Check refuses logs warnings and errors.
func (c *Config) Logger(w io.Writer) *slog.Logger {
	lvl, err := c.logLevel()
	if err != nil {
		lvl = slog.LevelWarn
	}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}))
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// Mode says how Open reached the log.
type Mode int

const (
	Standalone Mode = iota // this process owns the directory and runs the embedded server
	Client                 // the log is another process's (--server, or the directory's owner)
)

func (m Mode) String() string {
	if m == Standalone {
		return "standalone"
	}
	return "client"
}

// OpenOptions say what a command needs of Open.
type OpenOptions struct {
	Owner string // the command's name, written into the lock
	// Listen, when set, serves the embedded server on this host:port (port
	// 0: a free one) and writes its URL into the data directory. Otherwise
	// the embedded server listens on a free loopback port, so the NATS CLI
	// can still reach it while the command runs.
	Listen string
	// AllowClient lets Open connect to the process that owns the data
	// directory instead of failing with ErrLocked.
	AllowClient bool
	// NoReconnect gives the connection up once it is lost instead of
	// reconnecting: for a question to an owner that may end at any moment
	// (a standalone scan), which is then asked no more.
	NoReconnect bool
	// LockWithServer takes the data directory lock even with --server, for
	// commands that write local files.
	LockWithServer bool
	// TLSCert and TLSKey make the embedded server's listener require TLS.
	TLSCert, TLSKey string
	// ReadOnlyLog opens the log without creating the stream or changing
	// its configuration (store.Log.ReadOnly), for a read replica of a log
	// another process owns. WaitForLog, when set, is called each time the
	// stream is not there yet; Open tries again when it returns nil.
	ReadOnlyLog bool
	WaitForLog  func(ctx context.Context, err error) error
	// LeafListen, when set, accepts laptops' servers as leaf nodes on
	// this host:port (see embedded.LeafHub).
	LeafListen string
}

// Env is an opened data directory and log. Close releases everything in
// reverse order.
type Env struct {
	Mode    Mode
	Config  Config
	Lock    *store.DirLock // nil when another process owns the directory
	Server  Embedded       // nil unless this command runs the embedded server (Serve)
	Log     *store.Log
	closers []func() error
}

// Open opens cfg.DataDir and the log as opts ask (see the package doc).
func Open(ctx context.Context, cfg Config, opts OpenOptions, logger *slog.Logger) (*Env, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if _, err := cfg.hub(); err != nil {
		return nil, err
	}
	e := &Env{Config: cfg}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	dial := func(urls string) error {
		auth, err := cfg.clientAuth(urls)
		if err != nil {
			return err
		}
		var extra []nats.Option
		if opts.NoReconnect {
			extra = append(extra, nats.NoReconnect())
		}
		nc, err := store.DialAs(ctx, urls, opts.Owner, auth, extra...)
		if err != nil {
			return err
		}
		e.closers = append(e.closers, func() error { nc.Drain(); return nil })
		e.Log = &store.Log{Conn: nc, Replicas: cfg.Replicas}
		return nil
	}
	switch {
	case cfg.Server != "":
		e.Mode = Client
		if opts.LockWithServer {
			lock, err := store.LockDir(cfg.DataDir, opts.Owner)
			if err != nil {
				return nil, err
			}
			e.Lock = lock
			e.closers = append(e.closers, lock.Close)
		}
		if err := dial(cfg.Server); err != nil {
			return nil, err
		}
	default:
		if cfg.Replicas > 1 {
			return nil, Usagef("--replicas %d: the embedded server is one node and keeps 1 copy; give a cluster's URLs with --server", cfg.Replicas)
		}
		lock, err := store.LockDir(cfg.DataDir, opts.Owner)
		if le := (*store.LockedError)(nil); errors.As(err, &le) && opts.AllowClient {
			o := owned(cfg.Dir(), le)
			if o.URL == "" {
				return nil, err
			}
			e.Mode = Client
			if err := dial(o.URL); err != nil {
				return nil, fmt.Errorf("%w; the owner's server at %s did not answer", err, o.URL)
			}
			break
		}
		if err != nil {
			return nil, err
		}
		e.Mode = Standalone
		e.Lock = lock
		e.closers = append(e.closers, lock.Close)
		srv, err := Serve(ctx, cfg, opts, lock, logger)
		if err != nil {
			if errors.Is(err, store.ErrAddrInUse) {
				return nil, fmt.Errorf("--listen %s: %w", opts.Listen, err)
			}
			return nil, err
		}
		e.Server = srv
		e.closers = append(e.closers, srv.Close)
		nc, err := srv.Connect(opts.Owner)
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, func() error { nc.Close(); return nil })
		e.Log = &store.Log{Conn: nc, Replicas: 1}
	}
	e.Log.ReadOnly = opts.ReadOnlyLog
	for {
		err := e.Log.Open(ctx)
		if err == nil {
			break
		}
		if opts.WaitForLog == nil || !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err := opts.WaitForLog(ctx, err); err != nil {
			return nil, err
		}
	}
	ok = true
	return e, nil
}

// Close releases what Open took, in reverse order.
func (e *Env) Close() error {
	var first error
	for i := len(e.closers) - 1; i >= 0; i-- {
		if err := e.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	e.closers = nil
	return first
}

// Owner says who owns a data directory, for a command that reads it or
// asks the process that owns it.
type Owner int

const (
	Nobody Owner = iota // the directory is free: read its files, or take it
	// Project: a process that answers queries (an indexer-project) owns
	// the directory and serves its log at Ownership.URL.
	Project
	// Scanner: a standalone indexer-scan owns the directory. It serves
	// its log but answers no queries, and updates the index only when it
	// finishes.
	Scanner
	// Silent: a process owns the directory and serves no URL in it (an
	// indexer-project on --server, or one starting or stopping).
	Silent
)

func (o Owner) String() string {
	return [...]string{"nobody", "project", "scanner", "silent"}[o]
}

// Ownership is who owns a data directory, as DirOwner finds it.
type Ownership struct {
	Owner Owner
	URL   string             // the owner's server, from server.url; "" for Nobody and Silent
	Lock  *store.LockedError // who holds the lock; nil for Nobody
}

// DirOwner decides who owns dir: the one place that does (Open asks owned
// when it finds the directory locked). probe is written into the lock while
// DirOwner holds it, for a concurrent command's message.
//
// A process killed with SIGKILL leaves server.url behind. The kernel drops
// the lock of a dead process, so a free lock means nobody owns dir; such a
// server.url is removed here, so the next command does not take it for an
// owner. A directory that was never owned is left as it is (not created).
func DirOwner(dir store.Dir, probe string) (Ownership, error) {
	missing := func(path string) bool { _, err := os.Stat(path); return errors.Is(err, os.ErrNotExist) }
	if missing(dir.LockPath()) && missing(dir.ServerURLPath()) {
		return Ownership{}, nil
	}
	lock, err := store.LockDir(string(dir), probe)
	if err == nil {
		defer lock.Close()
		// Holding the lock, no owner can be writing a fresh server.url.
		if err := os.Remove(dir.ServerURLPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return Ownership{}, fmt.Errorf("remove stale server url: %w", err)
		}
		return Ownership{}, nil
	}
	var le *store.LockedError
	if !errors.As(err, &le) {
		return Ownership{}, err
	}
	return owned(dir, le), nil
}

// owned says who owns dir, whose lock le says is held.
func owned(dir store.Dir, le *store.LockedError) Ownership {
	o := Ownership{Owner: Project, URL: store.ReadServerURL(string(dir)), Lock: le}
	switch {
	case strings.HasPrefix(le.Owner, "indexer-scan"):
		o.Owner = Scanner
	case o.URL == "":
		o.Owner = Silent
	}
	return o
}

// Dir is the data directory, which names its files.
func (c Config) Dir() store.Dir { return store.Dir(c.DataDir) }

// listenAddr splits the address addr of the flag name, and refuses it
// beyond loopback without tls (CheckExposure).
func listenAddr(name, addr string, tls bool) (string, int, error) {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return "", 0, Usagef("%s %q: %v", name, addr, err)
	}
	return host, port, CheckExposure(name, host, tls)
}

// splitHostPort splits a --listen address: host:port, [v6]:port, or :port
// for the loopback address.
func splitHostPort(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, port, nil
}
