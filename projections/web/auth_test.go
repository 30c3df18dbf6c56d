package web_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/indexer/indexer/projections/web"
)

func TestProtect(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	token := web.Protect(ok, web.Access{Token: "s3cret-token-0123456789"})
	loop := web.Protect(ok, web.Access{Hosts: web.LoopbackHosts("127.0.0.1")})
	for _, tc := range []struct {
		name    string
		h       http.Handler
		path    string
		host    string
		bearer  string
		basicPW string
		want    int
	}{
		{"no token", token, "/api/stats", "", "", "", 401},
		{"the UI without a token", token, "/", "", "", "", 401},
		{"metrics without a token", token, "/metrics", "", "", "", 401},
		{"wrong token", token, "/api/stats", "", "nope", "", 401},
		{"bearer", token, "/api/stats", "", "s3cret-token-0123456789", "", 200},
		{"basic password", token, "/", "", "", "s3cret-token-0123456789", 200},
		{"health is open", token, "/health", "", "", "", 200},
		{"liveness is open", token, "/live", "", "", "", 200},
		{"readiness is open", token, "/ready", "", "", "", 200},
		{"nats monitoring without a token", token, "/nats/varz", "", "", "", 401},
		{"loopback by address", loop, "/api/stats", "127.0.0.1:8080", "", "", 200},
		{"loopback by name", loop, "/api/stats", "localhost:8080", "", "", 200},
		{"loopback v6", loop, "/api/stats", "[::1]:8080", "", "", 200},
		{"rebinding", loop, "/api/stats", "evil.example:8080", "", "", http.StatusMisdirectedRequest},
		{"rebinding without port", loop, "/", "evil.example", "", "", http.StatusMisdirectedRequest},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+tc.bearer)
		}
		if tc.basicPW != "" {
			req.SetBasicAuth("me", tc.basicPW)
		}
		rec := httptest.NewRecorder()
		tc.h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, rec.Code, tc.want)
		}
		if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
	}
}
