package web

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// Access says who may use a Handler, as Protect enforces it.
type Access struct {
	// Token, when set, is required of every request but the health
	// checks: as "Authorization: Bearer TOKEN", or as the password of
	// HTTP basic authentication (any user name), which a browser asks for
	// and then sends with the UI's own requests.
	Token string
	// Hosts, when set, are the host names (without port) a request's Host
	// header may name; any other is refused with 421. On loopback this
	// stops DNS rebinding: a page of another site whose name an attacker
	// points at 127.0.0.1 sends its own name as Host.
	Hosts []string
}

// LoopbackHosts returns the names a server listening on the loopback
// address host may be reached by: localhost, 127.0.0.1, ::1 and host.
func LoopbackHosts(host string) []string {
	return []string{"localhost", "127.0.0.1", "::1", strings.Trim(host, "[]")}
}

// Protect wraps h with a's checks. /health, /api/health, /live and /ready
// stay open (a load balancer, an orchestrator's probes or a monitor needs
// no secret); everything else, the API, the UI, /metrics and /nats/, needs
// the token when there is one.
func Protect(h http.Handler, a Access) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(a.Hosts) > 0 && !hostAllowed(r.Host, a.Hosts) {
			writeError(w, http.StatusMisdirectedRequest, "unknown Host "+r.Host+": this server answers only to "+strings.Join(a.Hosts, ", "))
			return
		}
		if a.Token != "" && !openPaths[r.URL.Path] && !tokenOK(r, a.Token) {
			w.Header().Set("WWW-Authenticate", `Basic realm="indexer", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "this server needs its token: Authorization: Bearer TOKEN (in DATA/credentials/http.token), or it as the password")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func hostAllowed(hostport string, hosts []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	for _, ok := range hosts {
		if strings.EqualFold(host, ok) {
			return true
		}
	}
	return false
}

func tokenOK(r *http.Request, token string) bool {
	got := ""
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		got = strings.TrimSpace(v)
	} else if _, pw, ok := r.BasicAuth(); ok {
		got = pw
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// openPaths need no token: health and probes.
var openPaths = map[string]bool{"/health": true, "/api/health": true, "/live": true, "/ready": true}
