package app

import (
	"flag"
	"fmt"
	"net"
	"strings"

	"github.com/indexer/indexer/store"
)

// AuthConfig is who a command connects as, and what it trusts: the part of
// Config about credentials and TLS.
type AuthConfig struct {
	// Creds is a credential file issued by `indexer-project credentials
	// add` (--creds, INDEXER_CREDS). Without it a command uses its data
	// directory's own credential for the data directory's server.
	Creds string
	// TLSCA is a PEM file of the certificate authorities to trust for a
	// tls:// server (--tls-ca, INDEXER_TLS_CA).
	TLSCA string
}

// registerAuthFlags adds --creds and --tls-ca to fs.
func (c *Config) registerAuthFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Creds, "creds", Getenv("CREDS", ""), "credential `file` for --server, from 'indexer-project credentials add' (env INDEXER_CREDS)")
	fs.StringVar(&c.TLSCA, "tls-ca", Getenv("TLS_CA", ""), "PEM `file` of the certificate authority of a tls:// --server (env INDEXER_TLS_CA)")
}

// clientAuth returns the identity to connect to urls with: --creds when
// given; the data directory's own credential when urls is the server the
// data directory's owner serves (its server.url); otherwise
// INDEXER_NATS_USER and INDEXER_NATS_PASSWORD, or nobody.
func (c Config) clientAuth(urls string) (store.ClientAuth, error) {
	auth := store.ClientAuth{User: c.User, Password: c.Password, CAFile: c.TLSCA}
	switch {
	case c.Creds != "":
		cred, err := store.ReadCredential(c.Creds)
		if err != nil {
			return auth, Usagef("--creds: %v", err)
		}
		auth.Credential = cred
	case urls == store.ReadServerURL(c.DataDir):
		// The owner's own listener: trust exactly its certificate.
		auth.PinnedCert = store.ReadServerCert(c.DataDir)
		if k := store.FindKeyring(c.DataDir); k != nil {
			cred, err := k.Admin()
			if err != nil {
				return auth, err
			}
			auth.Credential = cred
		}
	}
	return auth, nil
}

// Credential returns the credential --creds names, or nil.
func (c Config) Credential() (*store.Credential, error) {
	if c.Creds == "" {
		return nil, nil
	}
	cred, err := store.ReadCredential(c.Creds)
	if err != nil {
		return nil, Usagef("--creds: %v", err)
	}
	return cred, nil
}

// ErrInsecure is returned when a command is asked to serve beyond loopback
// without TLS.
var ErrInsecure = fmt.Errorf("%w: serving beyond loopback needs TLS", ErrUsage)

// CheckExposure refuses to serve what on host beyond loopback without TLS:
// credentials would cross the network in clear, and the traffic could be
// read. what is "--listen" or "--http".
func CheckExposure(what, host string, tls bool) error {
	if tls || IsLoopback(host) {
		return nil
	}
	return fmt.Errorf(`%w: %s %s is reachable from the network, and indexer serves it only over TLS.
  Give a certificate and its key: --tls-cert FILE --tls-key FILE (env INDEXER_TLS_CERT, INDEXER_TLS_KEY),
  for example from your CA, or a self-signed one:
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
      -subj /CN=HOST -addext subjectAltName=DNS:HOST -keyout key.pem -out cert.pem
  Clients then trust it with --tls-ca cert.pem. Every client also needs a credential:
  'indexer-project credentials add MACHINE' (see the README, Security).
  Or keep %s on 127.0.0.1`, ErrInsecure, what, host, what)
}

// IsLoopback reports whether host (a name or an address, no port) is
// reachable only from this machine.
func IsLoopback(host string) bool {
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
