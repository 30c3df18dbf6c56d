package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
)

// dupes --json prints each group on a line as it printed it before the
// groups were written by hand (json.Encoder, then the modes rewritten),
// byte for byte, over an index of strange names; the other pages and
// filters too.
func TestDupesJSONAsEncoded(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, append(servicetest.Fixture(), servicetest.StrangeDuplicates()...)...)
	env.Close()
	local := &service.Local{Index: servicetest.OpenIndex(t, env.Dir)}
	for _, c := range []struct {
		args []string
		q    service.DupesRequest
	}{
		{[]string{"--limit", "0", "--files", "0", "--empty"}, service.DupesRequest{Limit: -1, Files: -1}},
		{[]string{"--limit", "0"}, service.DupesRequest{Limit: -1, Files: 10, MinSize: 1}},
		{[]string{"--limit", "3", "--page", "2", "--files", "1"}, service.DupesRequest{Limit: 3, Offset: 3, Files: 1, MinSize: 1}},
		{[]string{"--machine", "m1", "--sort", "count", "--files", "0"}, service.DupesRequest{Machine: "m1", Sort: "count", Limit: 20, Files: -1, MinSize: 1}},
	} {
		if c.q.Sort == "" {
			c.q.Sort = "wasted"
		}
		c.q.MinCount = 2
		res, err := local.Dupes(context.Background(), c.q)
		if err != nil {
			t.Fatal(err)
		}
		var want strings.Builder
		for _, g := range res.Groups {
			b, err := json.Marshal(g)
			if err == nil {
				b, err = service.PosixJSON(b)
			}
			if err != nil {
				t.Fatal(err)
			}
			want.Write(append(b, '\n'))
		}
		out := mustRun(t, append([]string{"dupes", "--json", "--data", env.Dir}, c.args...)...)
		if out != want.String() {
			t.Errorf("dupes --json %s printed\n%s\nwant\n%s", strings.Join(c.args, " "), out, want.String())
		}
		if len(res.Groups) == 0 || c.q.Files < 0 && !strings.Contains(out, `{"b64":`) {
			t.Errorf("dupes --json %s: %d groups, or no name that is not UTF-8:\n%s", strings.Join(c.args, " "), len(res.Groups), out)
		}
	}
}
