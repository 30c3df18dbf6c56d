package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"testing"

	"github.com/indexer/indexer/projections"
	"github.com/indexer/indexer/projections/service"
	"github.com/indexer/indexer/projections/service/servicetest"
	"github.com/indexer/indexer/projections/web"
)

// TestQuestionsOverHTTP asks the shared find and duplicates questions
// (servicetest.FindQuestions, DupesQuestions) of /api/find and /api/dupes
// and checks that each answer is the index's own, as service.Local gives
// it; service's tests check the NATS service against the same answers. A
// question the index refuses is a 400. Questions the HTTP API cannot put
// (a path substring, no limit, every file of a group) are left out.
func TestQuestionsOverHTTP(t *testing.T) {
	t.Parallel()
	env := servicetest.MustOpen(t, servicetest.Options{})
	env.Publish(t, append(servicetest.Fixture(), servicetest.UnknownInodes()...)...)
	srv := httptest.NewServer(web.New(env.Local, nil))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	asked := 0
	for name, q := range servicetest.FindQuestions() {
		v, ok := findParams(q)
		if !ok {
			continue
		}
		want, err := env.Local.Find(ctx, q)
		sameOverHTTP(t, srv, name, "/api/find?"+v.Encode(), want, err)
		asked++
	}
	for name, q := range servicetest.DupesQuestions() {
		v, ok := dupesParams(q)
		if !ok {
			continue
		}
		want, err := env.Local.Dupes(ctx, q)
		sameOverHTTP(t, srv, name, "/api/dupes?"+v.Encode(), want, err)
		asked++
	}
	if asked < 30 {
		t.Fatalf("only %d questions could be put over HTTP", asked)
	}
}

// sameOverHTTP checks that GET path answers what the index answered: want,
// or err's status.
func sameOverHTTP(t *testing.T, srv *httptest.Server, name, path string, want any, err error) {
	t.Helper()
	res, gerr := http.Get(srv.URL + path)
	if gerr != nil {
		t.Fatal(gerr)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	code := http.StatusOK
	switch {
	case errors.Is(err, projections.ErrBadQuery):
		code = http.StatusBadRequest
	case errors.Is(err, projections.ErrNotFound):
		code = http.StatusNotFound
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	if res.StatusCode != code {
		t.Errorf("%s: GET %s: status %d, want %d (%v); body %s", name, path, res.StatusCode, code, err, body)
		return
	}
	if err != nil {
		return
	}
	var got, exp any
	b, _ := json.Marshal(want)
	b, _ = service.PosixJSON(b) // modes as the API gives them
	json.Unmarshal(b, &exp)
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: %v; body %s", name, err, body)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("%s: GET %s:\n%s\nthe index:\n%s", name, path, body, b)
	}
}

// findParams puts q as /api/find's parameters; ok is false when they
// cannot say it.
func findParams(q service.FindRequest) (url.Values, bool) {
	v := url.Values{}
	limit := q.Limit
	if limit == 0 {
		limit = 100 // service's default; the API's is 50
	}
	if q.PathContains != "" || limit < 1 || limit > 1000 || q.Mode == "regexp" {
		return nil, false
	}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("q", q.Pattern)
	set("mode", q.Mode)
	if q.Path {
		v.Set("in", "path")
	}
	if q.CaseSensitive {
		v.Set("case", "true")
	}
	if q.Archived {
		v.Set("archived", "true")
	}
	set("machine", q.Machine)
	set("under", string(q.Under))
	set("ext", q.Ext)
	set("hash", q.Hash)
	if q.MinSize != 0 {
		v.Set("min_size", strconv.FormatInt(q.MinSize, 10))
	}
	if q.MaxSize != 0 {
		v.Set("max_size", strconv.FormatInt(q.MaxSize, 10))
	}
	v.Set("limit", strconv.Itoa(limit))
	v.Set("offset", strconv.Itoa(q.Offset))
	return v, true
}

// dupesParams puts q as /api/dupes's parameters; ok is false when they
// cannot say it.
func dupesParams(q service.DupesRequest) (url.Values, bool) {
	v := url.Values{}
	limit := q.Limit
	if limit == 0 {
		limit = 100 // service's default; the API's is 50
	}
	if q.Files < 0 || q.Files > 100 || limit < 1 || limit > 500 {
		return nil, false
	}
	if q.Sort != "" {
		v.Set("sort", q.Sort)
	}
	if q.Asc {
		v.Set("order", "asc")
	}
	if q.MinSize != 0 {
		v.Set("min_size", strconv.FormatUint(q.MinSize, 10))
	}
	if q.MinCount > 2 { // every group has two or more files
		v.Set("min_count", strconv.FormatUint(q.MinCount, 10))
	}
	if q.Machine != "" {
		v.Set("machine", q.Machine)
	}
	v.Set("files", strconv.Itoa(q.Files))
	v.Set("limit", strconv.Itoa(limit))
	v.Set("offset", strconv.Itoa(q.Offset))
	return v, true
}
