package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Names of the files in a data directory's credentials directory
// (Dir.CredentialsPath, mode 0700).
const (
	AdminFile     = "admin.nk"   // the owner's own credential (a seed: secret)
	UsersFile     = "users.json" // every accepted credential: public keys and roles, no secrets
	HTTPTokenFile = "http.token" // the bearer token of the HTTP API beyond loopback (secret)
)

// Keyring is a data directory's credentials: DIR/credentials/users.json
// lists every credential the embedded server accepts (public keys and
// roles), and DIR/credentials/admin.nk is the owner's own, which every
// command run on the data directory uses. Issued credentials' seeds are
// written to their files and kept nowhere else.
type Keyring struct {
	// DataDir is the data directory.
	DataDir string
}

// OpenKeyring returns the keyring of dataDir, creating it on first use
// (and the admin credential when its file is missing: removing admin.nk is
// how it is rotated).
func OpenKeyring(dataDir string) (*Keyring, error) {
	k := &Keyring{DataDir: dataDir}
	if err := os.MkdirAll(k.dir(), 0o700); err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if err := os.Chmod(k.dir(), 0o700); err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	err := k.update(func(users []User) ([]User, error) {
		if _, err := os.Stat(k.path(AdminFile)); err == nil {
			return users, nil
		}
		c, err := NewCredential(RoleAdmin, "admin")
		if err != nil {
			return nil, err
		}
		if err := writeSecret(k.path(AdminFile), c.Encode()); err != nil {
			return nil, err
		}
		users = slices.DeleteFunc(users, func(u User) bool { return u.Role == RoleAdmin })
		return append([]User{c.User}, users...), nil
	})
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return k, nil
}

// FindKeyring returns the keyring of dataDir when it has one, or nil.
func FindKeyring(dataDir string) *Keyring {
	k := &Keyring{DataDir: dataDir}
	if _, err := os.Stat(k.path(AdminFile)); err != nil {
		return nil
	}
	return k
}

func (k *Keyring) dir() string             { return Dir(k.DataDir).CredentialsPath() }
func (k *Keyring) path(name string) string { return filepath.Join(k.dir(), name) }

// UsersPath is the file of the accepted credentials, which a serving
// Server watches.
func (k *Keyring) UsersPath() string { return k.path(UsersFile) }

// Admin returns the data directory's own credential.
func (k *Keyring) Admin() (*Credential, error) {
	return ReadCredential(k.path(AdminFile))
}

// Users returns the accepted credentials, the admin first.
func (k *Keyring) Users() ([]User, error) {
	b, err := os.ReadFile(k.UsersPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	var users []User
	if err := json.Unmarshal(b, &users); err != nil {
		return nil, fmt.Errorf("credentials: %s: %w", k.UsersPath(), err)
	}
	return users, nil
}

// Add issues a credential of role for name (a scanner's machine, a
// reader's name) and returns it; its seed is in the returned Credential
// only. A name already issued is ErrConflict: revoke it first to rotate.
func (k *Keyring) Add(role Role, name string) (*Credential, error) {
	if role != RoleScanner && role != RoleReader && role != RoleLeaf {
		return nil, fmt.Errorf("add credential: role %q: a scanner, a reader or a leaf", role)
	}
	if err := ValidateCredentialName(name); err != nil {
		return nil, fmt.Errorf("add credential: %w", err)
	}
	c, err := NewCredential(role, name)
	if err != nil {
		return nil, err
	}
	err = k.update(func(users []User) ([]User, error) {
		for _, u := range users {
			if u.Name == name {
				return nil, fmt.Errorf("%s already has a credential: %w (revoke it first to issue a new one)", u, ErrConflict)
			}
		}
		return append(users, c.User), nil
	})
	if err != nil {
		return nil, fmt.Errorf("add credential: %w", err)
	}
	return c, nil
}

// Revoke removes the credential of name; a server that serves the keyring
// closes its connections within a second (Server watches UsersFile). It
// returns the user removed, or ErrNotFound.
func (k *Keyring) Revoke(name string) (User, error) {
	var gone User
	err := k.update(func(users []User) ([]User, error) {
		i := slices.IndexFunc(users, func(u User) bool { return u.Name == name && u.Role != RoleAdmin })
		if i < 0 {
			return nil, fmt.Errorf("no credential named %q: %w", name, ErrNotFound)
		}
		gone = users[i]
		return slices.Delete(users, i, i+1), nil
	})
	if err != nil {
		return User{}, fmt.Errorf("revoke credential: %w", err)
	}
	return gone, nil
}

// HTTPToken returns the bearer token of the HTTP API, generated on first
// use.
func (k *Keyring) HTTPToken() (string, error) {
	b, err := os.ReadFile(k.path(HTTPTokenFile))
	if err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	var r [24]byte
	rand.Read(r[:])
	tok := hex.EncodeToString(r[:])
	if err := writeSecret(k.path(HTTPTokenFile), []byte(tok+"\n")); err != nil {
		return "", fmt.Errorf("http token: %w", err)
	}
	return tok, nil
}

// HTTPTokenPath is the file of the HTTP API's bearer token.
func (k *Keyring) HTTPTokenPath() string { return k.path(HTTPTokenFile) }

// update changes the users file under a lock, so two commands issuing
// credentials at once both count.
func (k *Keyring) update(fn func([]User) ([]User, error)) error {
	f, err := os.OpenFile(k.path(".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	users, err := k.Users()
	if err != nil {
		return err
	}
	before, _ := json.Marshal(users)
	users, err = fn(users)
	if err != nil {
		return err
	}
	if after, _ := json.Marshal(users); string(after) == string(before) {
		return nil
	}
	b, err := json.MarshalIndent(users, "", "  ")
	if err != nil {
		return err
	}
	return writeSecret(k.UsersPath(), append(b, '\n'))
}

// writeSecret writes b to name, mode 0600, through a temporary file and a
// rename.
func writeSecret(name string, b []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
