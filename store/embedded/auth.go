package embedded

import (
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/indexer/indexer/events"
	"github.com/indexer/indexer/store"
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
		if u.Role == store.RoleAdmin || u.PublicKey == admin.PublicKey {
			continue
		}
		// A leaf credential connects only as a leaf node, the others
		// never do: a leaf connection's permissions read the other way.
		// (the names are jwt.ConnectionType*).
		conns := map[string]struct{}{"STANDARD": {}, "IN_PROCESS": {}}
		if u.Role == store.RoleLeaf {
			conns = map[string]struct{}{"LEAFNODE": {}}
		}
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: u.PublicKey, Permissions: permissions(u),
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
	leaf, err := store.CertDER(s.TLSCert)
	if err != nil {
		return fmt.Errorf("embedded server: tls: %w", err)
	}
	s.tlsLeaf = leaf
	return nil
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

// permissions returns the NATS permissions of u (nil: everything).
//
// A scanner's reads go through ordered consumers filtered on its own
// subjects, which nats.go creates on the subject
// $JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>, so a filter is part of
// what is allowed. Pulling, consumer info and delete are allowed on any
// consumer of the stream: names are random, and an ordered consumer that
// finds its consumer gone recreates it.
func permissions(u store.User) *server.Permissions {
	js := "$JS.API."
	lease := "$KV." + store.LeaseBucket + "."
	leaseStream := "KV_" + store.LeaseBucket
	readStream := []string{
		js + "INFO",
		js + "STREAM.INFO." + store.DefaultStream,
		js + "CONSUMER.MSG.NEXT." + store.DefaultStream + ".*",
		js + "CONSUMER.INFO." + store.DefaultStream + ".*",
		js + "CONSUMER.DELETE." + store.DefaultStream + ".*",
	}
	switch u.Role {
	case store.RoleScanner:
		return &server.Permissions{
			Publish: &server.SubjectPermission{Allow: append(readStream,
				events.MachineSubjects(u.Name),
				lease+u.Name,
				js+"STREAM.INFO."+leaseStream,
				js+"STREAM.MSG.GET."+leaseStream,
				js+"DIRECT.GET."+leaseStream+"."+lease+u.Name,
				js+"CONSUMER.CREATE."+store.DefaultStream+".*."+events.MachineSubjects(u.Name),
			),
				// Forgetting files is the owner's (indexer-project forget):
				// a machine cannot hide its own files from the index.
				Deny: []string{events.Subject(u.Name, events.TypeFilesForgotten)},
			},
			Subscribe: &server.SubjectPermission{Allow: []string{u.InboxPrefix() + ".>"}},
		}
	case store.RoleReader:
		return &server.Permissions{
			Publish: &server.SubjectPermission{
				Allow: append(readStream,
					"indexer.>", "$SRV.>",
					js+"STREAM.INFO."+leaseStream, // Log.Open looks for the lease bucket
					js+"STREAM.MSG.GET."+store.DefaultStream,
					js+"DIRECT.GET."+store.DefaultStream, js+"DIRECT.GET."+store.DefaultStream+".>",
					js+"CONSUMER.CREATE."+store.DefaultStream+".>",
				),
				Deny: []string{"indexer.admin.>"},
			},
			Subscribe: &server.SubjectPermission{Allow: []string{u.InboxPrefix() + ".>"}},
		}
	case store.RoleLeaf:
		return leafPermissions(u.Name)
	}
	return nil
}
