package main

import (
	"context"
	"flag"
	"log/slog"
	"sync"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/cmd/internal/inproc"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/embedded"
)

// DefaultLeafPort is the usual port of --leaf-listen: NATS's leaf node
// port 7422 plus 22, as DefaultListen is NATS's client port plus 22.
const DefaultLeafPort = "7444"

// leafHub is run's part for offline laptops: with --leaf-listen it accepts
// laptops' servers as leaf nodes and keeps the log sourcing each laptop
// that has a leaf credential (embedded.LeafHub).
type leafHub struct {
	listen string
	stop   context.CancelFunc
	done   sync.WaitGroup
}

func (h *leafHub) register(fs *flag.FlagSet) {
	fs.StringVar(&h.listen, "leaf-listen", app.Getenv("LEAF_LISTEN", ""), "accept laptops (indexer --hub) as NATS leaf nodes on `host:port`, usually :"+DefaultLeafPort+"; needs TLS beyond loopback (env INDEXER_LEAF_LISTEN)")
}

// check refuses --leaf-listen where nothing can serve it.
func (h *leafHub) check(cfg app.Config) error {
	if h.listen != "" && cfg.Server != "" {
		return usagef("--leaf-listen with --server: laptops connect to the embedded server; on an external NATS server configure its leafnodes block instead")
	}
	return nil
}

// start runs the LeafHub in the background when env's server accepts
// leaf nodes; Close stops it.
func (h *leafHub) start(env *app.Env, logger *slog.Logger) {
	srv := inproc.Of(env)
	if srv == nil || srv.LeafURL() == "" {
		return
	}
	keyring := srv.Keyring
	lh := &embedded.LeafHub{Server: srv, Log: env.Log, Logger: logger, Machines: func() ([]string, error) {
		if keyring == nil {
			return nil, nil
		}
		users, err := keyring.Users()
		var ms []string
		for _, u := range users {
			if u.Role == store.RoleLeaf {
				ms = append(ms, u.Name)
			}
		}
		return ms, err
	}}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	h.done.Add(1)
	go func() { defer h.done.Done(); lh.Run(ctx) }()
	logger.Info("accepting laptops", "leaf", srv.LeafURL())
}

// Close stops the LeafHub and waits for it.
func (h *leafHub) Close() {
	if h.stop != nil {
		h.stop()
		h.done.Wait()
	}
}
