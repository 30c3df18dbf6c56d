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

	"github.com/nats-io/nats.go"
)

// CertDER returns the first certificate (DER) of a PEM file.
func CertDER(file string) ([]byte, error) {
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
	der, err := CertDER(Dir(dir).ServerCertPath())
	if err != nil {
		return nil
	}
	return der
}
