package store

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// usersPoll is how often a serving Server looks at its keyring's users
// file for a change.
const usersPoll = time.Second

// authOptions sets the keyring's users into opts, and remembers the admin
// credential for Connect.
func (s *Server) authOptions(opts *server.Options) error {
	if s.Keyring == nil {
		return nil
	}
	admin, err := s.Keyring.Admin()
	if err != nil {
		return fmt.Errorf("embedded server: %w", err)
	}
	users, err := s.Keyring.Users()
	if err != nil {
		return fmt.Errorf("embedded server: %w", err)
	}
	s.admin = admin
	opts.Nkeys = []*server.NkeyUser{{Nkey: admin.PublicKey}}
	for _, u := range users {
		if u.Role == RoleAdmin || u.PublicKey == admin.PublicKey {
			continue
		}
		// A leaf credential connects only as a leaf node, the others
		// never do: a leaf connection's permissions read the other way.
		// (the names are jwt.ConnectionType*).
		conns := map[string]struct{}{"STANDARD": {}, "IN_PROCESS": {}}
		if u.Role == RoleLeaf {
			conns = map[string]struct{}{"LEAFNODE": {}}
		}
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: u.PublicKey, Permissions: u.permissions(),
			AllowedConnectionTypes: conns})
	}
	return nil
}

// tlsOptions makes the listener require TLS with TLSCert and TLSKey.
func (s *Server) tlsOptions(opts *server.Options) error {
	if s.TLSCert == "" && s.TLSKey == "" {
		return nil
	}
	cfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: s.TLSCert, KeyFile: s.TLSKey})
	if err != nil {
		return fmt.Errorf("embedded server: tls: %w", err)
	}
	opts.TLSConfig = cfg
	opts.TLSTimeout = 5
	leaf, err := leafDER(s.TLSCert)
	if err != nil {
		return fmt.Errorf("embedded server: tls: %w", err)
	}
	s.tlsLeaf = leaf
	return nil
}

// leafDER returns the first certificate of a PEM file.
func leafDER(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no certificate", file)
		}
		if blk.Type == "CERTIFICATE" {
			return blk.Bytes, nil
		}
	}
}

// pinnedTLS trusts exactly the certificate this server serves: Connect
// reaches its own listener, whatever names the certificate carries.
func (s *Server) pinnedTLS() *tls.Config { return pinnedTLS(s.tlsLeaf) }

// pinnedTLS trusts exactly the certificate leaf (DER).
func pinnedTLS(leaf []byte) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the exact comparison below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], leaf) {
				return errors.New("the embedded server presented another certificate")
			}
			return nil
		},
	}
}

// watchUsers reloads the server's users when the keyring's users file
// changes, until Close.
func (s *Server) watchUsers(options func() (*server.Options, error)) {
	defer close(s.authDone)
	stamp := func() string {
		fi, err := os.Stat(s.Keyring.UsersPath())
		if err != nil {
			return ""
		}
		return fmt.Sprintf("%d %d %v", fi.Size(), fi.ModTime().UnixNano(), fi.Sys())
	}
	last := stamp()
	t := time.NewTicker(usersPoll)
	defer t.Stop()
	for {
		select {
		case <-s.stopAuth:
			return
		case <-t.C:
		}
		now := stamp()
		if now == last {
			continue
		}
		last = now
		opts, err := options()
		if err == nil {
			err = s.ns.ReloadOptions(opts)
		}
		if err != nil && s.Logger != nil {
			s.Logger.Error("credentials changed but could not be applied", "file", s.Keyring.UsersPath(), "err", err)
		} else if s.Logger != nil {
			s.Logger.Info("credentials reloaded", "users", len(opts.Nkeys))
		}
	}
}

// ClientAuth is who a client connects as, and whom it trusts.
type ClientAuth struct {
	// Credential is an nkey credential (a data directory's admin, or one
	// issued with Keyring.Add); nil for none.
	Credential *Credential
	// User and Password, for a server configured with them.
	User, Password string
	// CAFile is a PEM file of the certificate authorities to trust for a
	// tls:// server, besides the system's.
	CAFile string
	// PinnedCert, when set, is the one certificate (DER) to trust: the
	// one a data directory's owner serves (ReadServerCert), whatever
	// names it carries.
	PinnedCert []byte
}

func (a ClientAuth) options() ([]nats.Option, error) {
	var opts []nats.Option
	if a.Credential != nil {
		opts = append(opts, a.Credential.options()...)
	} else if a.User != "" {
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.PinnedCert != nil {
		opts = append(opts, nats.Secure(pinnedTLS(a.PinnedCert)))
	} else if a.CAFile != "" {
		if _, err := os.Stat(a.CAFile); err != nil {
			return nil, fmt.Errorf("tls ca: %w", err)
		}
		opts = append(opts, nats.RootCAs(a.CAFile))
	}
	return opts, nil
}

// describe names the identity used, for an authentication error.
func (a ClientAuth) describe() string {
	switch {
	case a.Credential != nil:
		return "as " + a.Credential.User.String() + ", key " + a.Credential.PublicKey
	case a.User != "":
		return "as user " + a.User
	}
	return "without a credential: give one with --creds"
}

// isAuthError reports whether a connect failed because the server refused
// the credential.
func isAuthError(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrNkeysNotSupported) ||
		strings.Contains(strings.ToLower(err.Error()), "authorization violation")
}

// ReadServerCert returns the certificate (DER) of the TLS listener of the
// process that owns dir (Dir.ServerCertPath), or nil.
func ReadServerCert(dir string) []byte {
	der, err := leafDER(Dir(dir).ServerCertPath())
	if err != nil {
		return nil
	}
	return der
}
