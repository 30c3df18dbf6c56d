package promtest

import (
	"slices"
	"testing"
)

func TestExprMetrics(t *testing.T) {
	for expr, want := range map[string][]string{
		`indexer_projection_lag`: {"indexer_projection_lag"},
		`histogram_quantile(0.99, sum by (le, query) (rate(indexer_query_duration_seconds_bucket[5m])))`: {"indexer_query_duration_seconds_bucket"},
		`jetstream_stream_total_bytes{stream_name="INDEXER"} / indexer_log_max_bytes > 0`:                {"jetstream_stream_total_bytes", "indexer_log_max_bytes"},
		`time() - max by (machine) (indexer_last_scan_completed_timestamp_seconds)`:                      {"indexer_last_scan_completed_timestamp_seconds"},
	} {
		if got := ExprMetrics(expr); !slices.Equal(got, want) {
			t.Errorf("ExprMetrics(%q) = %v, want %v", expr, got, want)
		}
	}
}
