package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/indexer/indexer/events"
)

// Role is what a credential may do with the log. The embedded server
// enforces it with NATS subject permissions: a denied action fails at once
// with ErrPermission.
type Role string

const (
	// RoleAdmin may do everything: the owner process of the data
	// directory (indexer-project, a standalone scan) and the commands run
	// beside it on the same data directory.
	RoleAdmin Role = "admin"
	// RoleScanner may append the events of one machine (idx.<machine>.>)
	// but its FilesForgotten, which only the log's owner publishes, hold
	// that machine's scan lease, and read back that machine's events
	// (the scan state's catch-up, the Appender's search). It may not touch
	// another machine's subjects or lease, nor delete, purge or edit a
	// stream.
	RoleScanner Role = "scanner"
	// RoleReader may ask the query service (indexer.>, but not
	// indexer.admin.>) and read the log; it may publish nothing that is
	// stored.
	RoleReader Role = "reader"
)

// User is one credential the embedded server accepts: a public nkey, its
// role, and for a scanner the machine it writes. The server holds only
// public keys; the seed is in the credential file of whoever uses it.
type User struct {
	// Name is the machine for a scanner, a chosen name for a reader,
	// "admin" for the data directory's own.
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	PublicKey string    `json:"public_key"`
	Created   time.Time `json:"created"`
}

// InboxPrefix is the prefix of the reply subjects of u's connections: the
// only subjects a scanner or reader may subscribe to, so one machine
// cannot read another's replies. The admin uses nats.go's default.
func (u User) InboxPrefix() string {
	switch u.Role {
	case RoleScanner:
		return "_INBOX.scan." + u.Name
	case RoleReader:
		return "_INBOX.read." + u.Name
	case RoleLeaf:
		return "_INBOX.leaf." + u.Name
	}
	return nats.InboxPrefix[:len(nats.InboxPrefix)-1]
}

// String describes u for messages: "scanner of machine laptop".
func (u User) String() string {
	switch u.Role {
	case RoleScanner:
		return "scanner of machine " + u.Name
	case RoleReader:
		return "reader " + u.Name
	case RoleLeaf:
		return "leaf node of machine " + u.Name
	}
	return string(u.Role)
}

// Allowed says in a few words what u may do, for a permission error.
func (u User) Allowed() string {
	switch u.Role {
	case RoleScanner:
		return fmt.Sprintf("this credential (%s) may publish only %s (but %s, which is the owner's) and its own scan lease", u, events.MachineSubjects(u.Name), events.Subject(u.Name, events.TypeFilesForgotten))
	case RoleReader:
		return fmt.Sprintf("this credential (%s) may only ask queries and read the log", u)
	case RoleLeaf:
		return fmt.Sprintf("this credential (%s) may only connect a laptop's server to the hub as a leaf node (INDEXER_HUB)", u)
	}
	return "this credential may do everything"
}

// ValidateCredentialName checks a scanner's machine or a reader's name:
// one subject token, as a machine name (events.ValidateMachine).
func ValidateCredentialName(name string) error {
	if name == "admin" {
		return fmt.Errorf("%q is the data directory's own credential", name)
	}
	return events.ValidateMachine(name)
}

// Credential is a user with its secret: the nkey seed a client signs the
// server's challenge with. Its file form (Encode) is an nkey seed file
// with comments, which the NATS CLI reads with --nkey.
type Credential struct {
	User
	seed []byte
}

// Seed returns c's secret: the nkey seed that signs a server's challenge
// (the embedded server's leaf remote signs the hub's with it).
func (c *Credential) Seed() []byte { return c.seed }

// NewCredential generates a credential of role for name.
func NewCredential(role Role, name string) (*Credential, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("new credential: %w", err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	return &Credential{User: User{Name: name, Role: role, PublicKey: pub, Created: time.Now().UTC().Truncate(time.Second)}, seed: seed}, nil
}

// credentialHeader starts every credential file; the lines after it that
// start with "# role:" and "# name:" say whose it is.
const credentialHeader = "# indexer credential: an nkey seed. Keep it secret (mode 0600)."

// Encode returns c's file form.
func (c *Credential) Encode() []byte {
	var b bytes.Buffer
	fmt.Fprintln(&b, credentialHeader)
	fmt.Fprintf(&b, "# role: %s\n# name: %s\n# public key: %s\n# created: %s\n", c.Role, c.Name, c.PublicKey, c.Created.Format(time.RFC3339))
	if c.Role == RoleLeaf {
		fmt.Fprintf(&b, "# use: on machine %s, INDEXER_HUB=URL INDEXER_HUB_CREDS=FILE (or --hub URL --hub-creds FILE)\n%s\n", c.Name, c.seed)
		return b.Bytes()
	}
	fmt.Fprintf(&b, "# use: indexer-scan --creds FILE, or nats --nkey FILE")
	if c.Role != RoleAdmin {
		fmt.Fprintf(&b, " --inbox-prefix %s", c.InboxPrefix())
	}
	fmt.Fprintf(&b, "\n%s\n", c.seed)
	return b.Bytes()
}

// ReadCredential reads a credential file written by Encode.
func ReadCredential(file string) (*Credential, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read credential: %w", err)
	}
	c, err := parseCredential(b)
	if err != nil {
		return nil, fmt.Errorf("read credential %s: %w", file, err)
	}
	return c, nil
}

func parseCredential(b []byte) (*Credential, error) {
	kp, err := nkeys.ParseDecoratedNKey(b)
	if err != nil {
		return nil, fmt.Errorf("no nkey seed in it: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return nil, fmt.Errorf("not a user nkey seed")
	}
	seed, _ := kp.Seed()
	c := &Credential{User: User{PublicKey: pub, Role: RoleAdmin, Name: "admin"}, seed: seed}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "# role: "); ok {
			c.Role = Role(strings.TrimSpace(v))
		} else if v, ok := strings.CutPrefix(line, "# name: "); ok {
			c.Name = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "# created: "); ok {
			c.Created, _ = time.Parse(time.RFC3339, strings.TrimSpace(v))
		}
	}
	switch c.Role {
	case RoleAdmin, RoleScanner, RoleReader, RoleLeaf:
	default:
		return nil, fmt.Errorf("unknown role %q", c.Role)
	}
	if c.Role != RoleAdmin {
		if err := ValidateCredentialName(c.Name); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// options returns the nats.go options that connect as c: the nkey, signing
// the server's challenge, and the inbox prefix its permissions allow.
func (c *Credential) options() []nats.Option {
	seed := c.seed
	sign := func(nonce []byte) ([]byte, error) {
		kp, err := nkeys.FromSeed(seed)
		if err != nil {
			return nil, err
		}
		defer kp.Wipe()
		return kp.Sign(nonce)
	}
	opts := []nats.Option{nats.Nkey(c.PublicKey, sign)}
	if c.Role != RoleAdmin {
		opts = append(opts, nats.CustomInboxPrefix(c.InboxPrefix()))
	}
	return opts
}

// ErrPermission is returned when the server refused an action to the
// connection's credential (a NATS permissions violation): appending another
// machine's events, deleting the stream, writing another machine's lease.
// Retrying cannot help; the error (a *PermissionError) says what the
// credential may do. Use one with the right role (indexer-project
// credentials add).
var ErrPermission = errors.New("permission denied")

// PermissionError is a permissions violation the server reported.
type PermissionError struct {
	Op      string // "publish to" or "subscription to"
	Subject string
	// Allowed says what the credential may do ("" when unknown).
	Allowed string
}

func (e *PermissionError) Error() string {
	msg := fmt.Sprintf("permission denied: %s %q", e.Op, e.Subject)
	if e.Allowed != "" {
		msg += ": " + e.Allowed
	}
	return msg
}

// Is makes errors.Is(err, ErrPermission) true.
func (e *PermissionError) Is(target error) bool { return target == ErrPermission }
