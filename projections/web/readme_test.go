package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
	"github.com/indexer/indexer/projections/web"
	"github.com/indexer/indexer/store"
	"github.com/indexer/indexer/store/storetest"
)

// readmeSections are the README's sections whose examples
// TestREADMEExamples runs.
var readmeSections = []string{"## Reading the log with the NATS CLI", "## Queries over HTTP and NATS"}

// readmeURL is the HTTP API's address in the README's examples.
const readmeURL = "http://127.0.0.1:8080"

// codeBlock is one fenced block of the README: its language and lines.
type codeBlock struct {
	lang  string
	lines []string
	at    int // line number of the fence
}

// readmeBlocks returns the fenced blocks of the named sections.
func readmeBlocks(t *testing.T) []codeBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []codeBlock
	var cur *codeBlock
	in := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && strings.HasPrefix(line, "```"):
			blocks, cur = append(blocks, *cur), nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		case strings.HasPrefix(line, "## "):
			in = false
			for _, s := range readmeSections {
				in = in || line == s
			}
		case in && strings.HasPrefix(line, "```"):
			cur = &codeBlock{lang: strings.TrimPrefix(line, "```"), at: n}
		}
	}
	return blocks
}

// TestREADMEExamples runs every curl and nats command of the README's
// sections on reading the log and on queries (readmeSections) against a
// live server holding the fixture, in a data directory laid out as a
// user's (HOME/.local/share/indexer, with its credentials), with the real
// NATS CLI and curl: each must succeed, and a ```json block after a
// command's block must be part of that command's reply (every key there,
// with the same value, but "stored": when the log stored an event). So the
// documented requests, parameters and reply shapes cannot drift.
func TestREADMEExamples(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dir := filepath.Join(home, ".local", "share", "indexer")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	keys, err := store.OpenKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	env := servicetest.MustOpen(t, servicetest.Options{Listen: true, Dir: dir, Keyring: keys})
	lastSeq := env.Publish(t, servicetest.Fixture()...)
	cache := &service.Cache{Queries: env.Local, Checkpoint: env.Projector.Checkpoint}
	svc, err := service.Serve(env.Log, cache, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop() })
	srv := httptest.NewServer(web.New(cache, nil))
	t.Cleanup(srv.Close)
	bin := t.TempDir()
	if err := os.Symlink(storetest.NATSCLI(t), filepath.Join(bin, "nats")); err != nil {
		t.Fatal(err)
	}
	_, curlErr := exec.LookPath("curl")
	var cleanEnv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NATS_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "PATH=") {
			cleanEnv = append(cleanEnv, kv)
		}
	}
	cleanEnv = append(cleanEnv, "HOME="+home, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	run := func(setup []string, cmd string) (stdout, stderr string, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if strings.HasPrefix(cmd, "curl ") {
			cmd = strings.ReplaceAll(cmd, readmeURL, srv.URL)
			if curlErr != nil { // no curl here: the same GET
				return httpGet(ctx, cmd)
			}
		}
		c := exec.CommandContext(ctx, "sh", "-c", strings.Join(append(setup, cmd), "\n"))
		c.Env = cleanEnv
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		err = c.Run()
		return o.String(), e.String(), err
	}

	blocks := readmeBlocks(t)
	var last, lastOut string
	ran := map[string]int{}
	for _, b := range blocks {
		if b.lang == "json" {
			if last == "" {
				t.Errorf("README line %d: a reply with no command before it", b.at)
				continue
			}
			if err := partOf(strings.Join(b.lines, "\n"), lastOut); err != nil {
				t.Errorf("README line %d: the reply of %s is not as documented: %v\nreply: %s", b.at, last, err, lastOut)
			}
			last = ""
			continue
		}
		var setup []string
		for _, line := range b.lines {
			switch {
			case strings.HasPrefix(line, "D=") || strings.HasPrefix(line, "export "):
				setup = append(setup, line)
			case strings.HasPrefix(line, "curl ") || strings.HasPrefix(line, "nats "):
				out, errOut, err := run(setup, line)
				ran[line[:4]]++
				last, lastOut = line, out
				switch {
				case strings.Contains(line, " stream view "):
					// Documented as needing a terminal, with this message.
					if err == nil || !strings.Contains(errOut, "interactive stream paging requires a valid terminal") {
						t.Errorf("%s: outside a terminal: %v\n%s%s\nthe README says it stops and why; change it", line, err, out, errOut)
					}
				case err != nil:
					t.Errorf("README line %d: %s: %v\n%s%s", b.at, line, err, out, errOut)
				case strings.Contains(line, " sub --stream "):
					lines := strings.Split(strings.TrimSpace(out), "\n")
					for _, l := range lines {
						var ev struct{ Type string }
						if json.Unmarshal([]byte(l), &ev) != nil || ev.Type == "" {
							t.Errorf("%s: %q is not an event", line, l)
						}
					}
					if want := lastSeq; strings.Contains(line, " --all ") && uint64(len(lines)) != want {
						t.Errorf("%s: %d events, want the log's %d", line, len(lines), want)
					}
				case strings.HasPrefix(line, "curl ") || strings.HasPrefix(line, "nats req "):
					if !json.Valid([]byte(out)) || strings.TrimSpace(out) == "" {
						t.Errorf("%s: the reply is not JSON: %q %s", line, out, errOut)
					}
				}
			}
		}
	}
	if ran["curl"] < 15 || ran["nats"] < 15 {
		t.Fatalf("ran %d curl and %d nats commands of the README: its sections %q moved?", ran["curl"], ran["nats"], readmeSections)
	}
}

// httpGet does what `curl -s 'URL'` does.
func httpGet(ctx context.Context, cmd string) (string, string, error) {
	m := regexp.MustCompile(`^curl -s '([^']+)'$`).FindStringSubmatch(cmd)
	if m == nil {
		return "", "", fmt.Errorf("no curl on PATH to run %s", cmd)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m[1], nil)
	if err != nil {
		return "", "", err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), "", err
}

// partOf reports how documented JSON is not part of got: an object's keys
// must be in got's with values that are part of got's, an array's
// elements part of got's at the same index, anything else equal.
func partOf(documented, got string) error {
	decode := func(s string) (any, error) {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		err := d.Decode(&v)
		return v, err
	}
	doc, err := decode(documented)
	if err != nil {
		return fmt.Errorf("the README's JSON: %w", err)
	}
	g, err := decode(got)
	if err != nil {
		return fmt.Errorf("the reply: %w", err)
	}
	return part(doc, g, "")
}

func part(doc, got any, at string) error {
	switch d := doc.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: an object in the README, %T in the reply", at, got)
		}
		for k, v := range d {
			gv, ok := g[k]
			switch {
			case !ok:
				return fmt.Errorf("%s.%s: not in the reply", at, k)
			case k == "stored": // when the log stored the event: any time
				if _, ok := gv.(string); !ok {
					return fmt.Errorf("%s.%s: %v, want a time", at, k, gv)
				}
			default:
				if err := part(v, gv, at+"."+k); err != nil {
					return err
				}
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) < len(d) {
			return fmt.Errorf("%s: %d elements in the README, the reply has %v", at, len(d), got)
		}
		for i := range d {
			if err := part(d[i], g[i], fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	default:
		if doc != got {
			return fmt.Errorf("%s: %v in the README, %v in the reply", at, doc, got)
		}
	}
	return nil
}
