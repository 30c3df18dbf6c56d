// Package promtest reads a Prometheus /metrics page in tests, with the
// client's own text parser (github.com/prometheus/common/expfmt), so a
// test checks what Prometheus would store, not a grep of the text.
package promtest
