package app

import (
	"flag"
	"net/url"
	"time"

	"github.com/indexer/indexer/store"
)

// HubConfig is the laptop's side of offline machines: the hub its
// embedded server connects to as a leaf node (see store.Hub). The laptop
// keeps its own data directory, log and index; while it can reach the hub,
// the hub's log sources its events, each once.
type HubConfig struct {
	// Hub is the hub's leaf listener, tls://HOST:7444 (--hub,
	// INDEXER_HUB); "" for none.
	Hub string
	// HubCreds is the laptop's leaf credential from the hub's
	// 'indexer-project credentials add MACHINE --leaf' (--hub-creds,
	// INDEXER_HUB_CREDS).
	HubCreds string
}

// HubWait bounds how long a command that ran the embedded server waits,
// when it ends, for the hub to take the laptop's last events while
// connected: a scan's events then reach the hub before the scan exits.
// What is left goes the next time the laptop's server runs.
const HubWait = 15 * time.Second

// registerHubFlags adds --hub and --hub-creds to fs.
func (c *Config) registerHubFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Hub, "hub", Getenv("HUB", ""), "also send this machine's events to the hub at `url` (tls://HOST:7444) whenever it can be reached; needs --hub-creds (env INDEXER_HUB)")
	fs.StringVar(&c.HubCreds, "hub-creds", Getenv("HUB_CREDS", ""), "this machine's leaf credential `file`, from the hub's 'indexer-project credentials add MACHINE --leaf' (env INDEXER_HUB_CREDS)")
}

// HubCredential returns the leaf credential --hub-creds names, or nil.
func (c Config) HubCredential() (*store.Credential, error) {
	if c.HubCreds == "" {
		return nil, nil
	}
	cred, err := store.ReadCredential(c.HubCreds)
	if err != nil {
		return nil, Usagef("--hub-creds: %v", err)
	}
	if cred.Role != store.RoleLeaf {
		return nil, Usagef("--hub-creds %s: a credential of %s, not a leaf's: issue one on the hub with 'indexer-project credentials add MACHINE --leaf'", c.HubCreds, cred.User)
	}
	return cred, nil
}

// hub returns the hub the embedded server connects to, or nil.
func (c Config) hub() (*store.Hub, error) {
	if c.Hub == "" && c.HubCreds == "" {
		return nil, nil
	}
	if c.Server != "" {
		// No embedded server runs: nothing to connect to the hub. A
		// laptop with INDEXER_HUB set still asks another log this way.
		return nil, nil
	}
	if c.Hub == "" || c.HubCreds == "" {
		return nil, Usagef("--hub and --hub-creds go together (env INDEXER_HUB, INDEXER_HUB_CREDS)")
	}
	if u, err := url.Parse(c.Hub); err != nil || u.Port() == "" || (u.Scheme != "tls" && u.Scheme != "nats-leaf") {
		return nil, Usagef("--hub %q: want tls://HOST:PORT (the hub's --leaf-listen, usually port 7444), or nats-leaf://HOST:PORT on loopback", c.Hub)
	}
	cred, err := c.HubCredential()
	if err != nil {
		return nil, err
	}
	return &store.Hub{URL: c.Hub, Credential: cred, CAFile: c.TLSCA}, nil
}
