package scancmd

import (
	"flag"
	"os"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/store"
)

// machineOfCredential makes a scanner credential's machine the default
// of --machine, and refuses another one: the server would deny every
// event of it. A laptop's leaf credential (--hub-creds) does the same:
// the hub takes only that machine's events.
func machineOfCredential(fs *flag.FlagSet, cfg app.Config, machine *string) error {
	cred, err := cfg.Credential()
	file := cfg.Creds
	if err == nil && cred == nil {
		cred, err = cfg.HubCredential()
		file = cfg.HubCreds
	}
	if err != nil || cred == nil || (cred.Role != store.RoleScanner && cred.Role != store.RoleLeaf) {
		return err
	}
	given := os.Getenv("INDEXER_MACHINE") != ""
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "machine" })
	if !given {
		*machine = cred.Name
		return nil
	}
	if *machine != cred.Name {
		return app.Usagef("--machine %s: the credential %s is for machine %s, and may write only its events", *machine, file, cred.Name)
	}
	return nil
}
