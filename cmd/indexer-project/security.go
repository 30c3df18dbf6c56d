package main

import (
	"flag"
	"net"
	"net/http"

	"github.com/indexer/indexer/cmd/internal/app"
	"github.com/indexer/indexer/projections/web"
	"github.com/indexer/indexer/store"
)

// serveTLS is run's certificate for NATS and HTTP, and the HTTP token.
type serveTLS struct {
	cert, key string
	httpToken string
}

func (t *serveTLS) register(fs *flag.FlagSet) {
	fs.StringVar(&t.cert, "tls-cert", app.Getenv("TLS_CERT", ""), "serve NATS and HTTP over TLS with this PEM certificate `file` (env INDEXER_TLS_CERT); needed beyond loopback")
	fs.StringVar(&t.key, "tls-key", app.Getenv("TLS_KEY", ""), "the PEM private key `file` of --tls-cert (env INDEXER_TLS_KEY)")
	fs.StringVar(&t.httpToken, "http-token", app.Getenv("HTTP_TOKEN", ""), "the HTTP API's bearer `token` beyond loopback (env INDEXER_HTTP_TOKEN; default: generated into DATA/credentials/http.token)")
}

// check refuses half a certificate, and HTTP beyond loopback without TLS
// (--listen is checked where the server starts).
func (t *serveTLS) check(httpAddr string) error {
	if (t.cert == "") != (t.key == "") {
		return app.Usagef("--tls-cert and --tls-key go together")
	}
	if httpAddr == "" || httpAddr == "off" {
		return nil
	}
	host, _, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return app.Usagef("--http %q: %v", httpAddr, err)
	}
	return app.CheckExposure("--http", host, t.cert != "")
}

// protect puts the HTTP access rules in front of h: on loopback, the Host
// header must name this machine (DNS rebinding); beyond it, every request
// but the health checks needs the token.
func (t *serveTLS) protect(dataDir, httpAddr string, h http.Handler) (http.Handler, error) {
	host, _, _ := net.SplitHostPort(httpAddr)
	if app.IsLoopback(host) {
		return web.Protect(h, web.Access{Hosts: web.LoopbackHosts(host)}), nil
	}
	token := t.httpToken
	if token == "" {
		k, err := store.OpenKeyring(dataDir)
		if err != nil {
			return nil, err
		}
		if token, err = k.HTTPToken(); err != nil {
			return nil, err
		}
	}
	return web.Protect(h, web.Access{Token: token}), nil
}
