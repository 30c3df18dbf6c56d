package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/store"
)

// CredentialsCommand issues, lists and revokes the credentials the data
// directory's embedded server accepts.
type CredentialsCommand struct {
	*Main
	cfg app.Config
}

const credentialsUsage = `Usage:
  indexer-project credentials add MACHINE [--out FILE]   a scanner's credential for MACHINE
  indexer-project credentials add --reader NAME [--out FILE]
                                                          a read-only one (queries, reading the log)
  indexer-project credentials add --leaf MACHINE [--out FILE]
                                                          an offline laptop's (its server as a leaf node)
  indexer-project credentials list [--json]
  indexer-project credentials revoke NAME

The embedded server accepts only the credentials of its data directory
(DATA/credentials/users.json holds their public keys and roles, no secrets).
'add' writes a new credential, an nkey seed, to FILE (default NAME.creds,
mode 0600): the only copy of its secret. Copy it to MACHINE and scan there
with
  indexer-scan --server tls://THIS-HOST:4244 --tls-ca CA.pem --creds FILE PATH
or use it with the NATS CLI: nats --nkey FILE --inbox-prefix (as the file says).
A scanner's credential may append only MACHINE's events and hold only its
scan lease; it cannot delete, purge or edit the log.

A leaf credential (--leaf) is for a laptop that keeps its own data
directory and log, and sends them here whenever it can reach this machine's
--leaf-listen: on the laptop, INDEXER_HUB=tls://THIS-HOST:7444
INDEXER_HUB_CREDS=FILE (README: Many machines). It may carry only that
laptop's events, through the log's source for it; a machine has either a
scanner's credential or a leaf's, so its events come one way.

'revoke' removes a credential; a running indexer-project closes its
connections within a second, without a restart. To rotate one, revoke it and
add it again. Commands run on this data directory use its own credential
(DATA/credentials/admin.nk); to rotate that one, stop indexer-project,
remove the file, and start it again.
`

// Run parses args and runs the credentials subcommand they name.
func (c *CredentialsCommand) Run(ctx context.Context, args []string) error {
	// "credentials --data D add X" as "credentials add --data D X".
	args = app.CommandFirst(args, func(s string) bool { return s == "add" || s == "list" || s == "revoke" })
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprint(c.Stderr, credentialsUsage)
			return flag.ErrHelp
		}
		return usagef("credentials: say add, list or revoke")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("indexer-project credentials "+sub, flag.ContinueOnError)
	c.cfg.RegisterFlags(fs)
	reader := fs.String("reader", "", "issue a read-only credential named `name`")
	leaf := fs.Bool("leaf", false, "issue an offline laptop's credential for MACHINE (its server connects to --leaf-listen)")
	out := fs.String("out", "", "write the credential to `file` (default NAME.creds; - for stdout)")
	asJSON := fs.Bool("json", false, "list as JSON lines")
	fs.SetOutput(c.Stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), credentialsUsage, "\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		return c.add(pos, *reader, *out, *leaf)
	case "list":
		if len(pos) > 0 {
			return usagef("credentials list: unexpected argument %q", pos[0])
		}
		return c.list(*asJSON)
	case "revoke":
		if len(pos) != 1 {
			return usagef("credentials revoke: give one NAME (see 'indexer-project credentials list')")
		}
		return c.revoke(pos[0])
	}
	return usagef("credentials: unknown subcommand %q; say add, list or revoke", sub)
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, and returns those.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func (c *CredentialsCommand) keyring() (*store.Keyring, error) {
	if err := os.MkdirAll(c.cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return store.OpenKeyring(c.cfg.DataDir)
}

func (c *CredentialsCommand) add(pos []string, reader, out string, leaf bool) error {
	role, name := store.RoleScanner, ""
	switch {
	case reader != "" && len(pos) == 0 && !leaf:
		role, name = store.RoleReader, reader
	case reader == "" && len(pos) == 1:
		name = pos[0]
		if leaf {
			role = store.RoleLeaf
		}
	default:
		return usagef("credentials add: give one MACHINE (with --leaf for a laptop), or --reader NAME")
	}
	if err := store.ValidateCredentialName(name); err != nil {
		return usagef("credentials add: %v", err)
	}
	if out == "" {
		out = name + ".creds"
	}
	if out != "-" {
		if _, err := os.Stat(out); err == nil {
			return usagef("credentials add: %s exists; give another --out", out)
		}
	}
	k, err := c.keyring()
	if err != nil {
		return err
	}
	cred, err := k.Add(role, name)
	if err != nil {
		return err
	}
	if out == "-" {
		_, err = c.Stdout.Write(cred.Encode())
		return err
	}
	if err := os.WriteFile(out, cred.Encode(), 0o600); err != nil {
		k.Revoke(name) // nobody holds its secret
		return fmt.Errorf("credentials add: %w", err)
	}
	fmt.Fprintf(c.Stdout, "%s: wrote its credential to %s (mode 0600; it is the only copy of the secret)\n", cred.User, out)
	switch role {
	case store.RoleScanner:
		fmt.Fprintf(c.Stdout, "on %s: indexer-scan --server URL --creds %s [--tls-ca CA.pem] PATH\n", name, out)
	case store.RoleLeaf:
		fmt.Fprintf(c.Stdout, "on %s: INDEXER_HUB=tls://THIS-HOST:%s INDEXER_HUB_CREDS=%s [INDEXER_TLS_CA=CA.pem] indexer-project (or indexer-scan PATH)\n", name, DefaultLeafPort, out)
		fmt.Fprintf(c.Stdout, "here: indexer-project run --leaf-listen 0.0.0.0:%s --tls-cert FILE --tls-key FILE sources it whenever it is connected\n", DefaultLeafPort)
	default:
		fmt.Fprintf(c.Stdout, "use: indexer --server URL --creds %s [--tls-ca CA.pem] stats\n", out)
	}
	return nil
}

func (c *CredentialsCommand) list(asJSON bool) error {
	k := store.FindKeyring(c.cfg.DataDir)
	if k == nil {
		return fmt.Errorf("no credentials in %s yet: they are made on first use (indexer-project, indexer-scan)", c.cfg.DataDir)
	}
	users, err := k.Users()
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(c.Stdout)
		for _, u := range users {
			enc.Encode(u)
		}
		return nil
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tPUBLIC KEY")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Created.Format(time.DateTime), u.PublicKey)
	}
	return tw.Flush()
}

func (c *CredentialsCommand) revoke(name string) error {
	k := store.FindKeyring(c.cfg.DataDir)
	if k == nil {
		return fmt.Errorf("no credentials in %s", c.cfg.DataDir)
	}
	u, err := k.Revoke(name)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "revoked %s; a running indexer-project closes its connections within a second\n", u)
	return nil
}
