package embedded

import (
	"net/http"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
)

// MonitorHandler serves the embedded server's own monitoring endpoints
// under prefix (for example "/nats"): varz, jsz, healthz, connz, subsz and
// accountz, the JSON that nats-server serves on its monitoring port, with
// their query parameters (jsz?streams=true&consumers=true). It needs no
// port of its own: mount it on the process's HTTP server. Nil when the
// server is not running here.
func (s *Server) MonitorHandler(prefix string) http.Handler {
	ns := s.ns
	if ns == nil {
		return nil
	}
	mux := http.NewServeMux()
	for path, fn := range map[string]http.HandlerFunc{
		"/varz": ns.HandleVarz, "/jsz": ns.HandleJsz, "/healthz": ns.HandleHealthz,
		"/connz": ns.HandleConnz, "/subsz": ns.HandleSubsz, "/accountz": ns.HandleAccountz,
	} {
		mux.Handle("GET "+prefix+path, fn)
	}
	return mux
}

// Collector returns the embedded server's figures for Prometheus under
// the names prometheus-nats-exporter gives them (gnatsd_varz_*,
// jetstream_server_*, jetstream_stream_*, jetstream_consumer_*, with its
// labels), so dashboards made for the exporter work without running it.
// They are read in-process when scraped. Nil when the server is not
// running here.
func (s *Server) Collector() prometheus.Collector {
	if s.ns == nil {
		return nil
	}
	return &natsCollector{ns: s.ns}
}

type natsCollector struct{ ns *server.Server }

var (
	serverLabels   = []string{"server_id", "server_name", "cluster", "domain", "meta_leader", "is_meta_leader"}
	streamLabels   = append(append([]string{}, serverLabels...), "account", "account_id", "stream_name", "stream_leader", "is_stream_leader")
	consumerLabels = append(append([]string{}, streamLabels...), "consumer_name", "consumer_leader", "is_consumer_leader", "consumer_desc", "consumer_created")

	jsDesc = func(sub, name, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("jetstream", sub, name), help, labels, nil)
	}
	varzDesc = func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("gnatsd_varz_"+name, help, []string{"server_id"}, nil)
	}

	descJSStreams   = jsDesc("server", "total_streams", "Total number of streams in JetStream", serverLabels)
	descJSConsumers = jsDesc("server", "total_consumers", "Total number of consumers in JetStream", serverLabels)
	descJSMessages  = jsDesc("server", "total_messages", "Total number of stored messages in JetStream", serverLabels)
	descJSBytes     = jsDesc("server", "total_message_bytes", "Total number of bytes stored in JetStream", serverLabels)
	descJSMaxStore  = jsDesc("server", "max_storage", "JetStream Max Storage", serverLabels)

	descStreamMsgs      = jsDesc("stream", "total_messages", "Total number of messages from a stream", streamLabels)
	descStreamBytes     = jsDesc("stream", "total_bytes", "Total stored bytes from a stream", streamLabels)
	descStreamFirstSeq  = jsDesc("stream", "first_seq", "First sequence from a stream", streamLabels)
	descStreamLastSeq   = jsDesc("stream", "last_seq", "Last sequence from a stream", streamLabels)
	descStreamConsumers = jsDesc("stream", "consumer_count", "Total number of consumers from a stream", streamLabels)
	descStreamMaxBytes  = prometheus.NewDesc("indexer_log_max_bytes", "The log stream's byte limit (-1: none); appends are refused beyond it.", []string{"stream_name"}, nil)

	descConsDelivered  = jsDesc("consumer", "delivered_stream_seq", "Latest sequence number of a stream", consumerLabels)
	descConsAckPending = jsDesc("consumer", "num_ack_pending", "Number of pending acks from a consumer", consumerLabels)
	descConsRedeliv    = jsDesc("consumer", "num_redelivered", "Number of redelivered messages from a consumer", consumerLabels)
	descConsPending    = jsDesc("consumer", "num_pending", "Number of pending messages from a consumer", consumerLabels)

	descVarzConns    = varzDesc("connections", "Current client connections")
	descVarzInMsgs   = varzDesc("in_msgs", "Messages received")
	descVarzOutMsgs  = varzDesc("out_msgs", "Messages sent")
	descVarzInBytes  = varzDesc("in_bytes", "Bytes received")
	descVarzOutBytes = varzDesc("out_bytes", "Bytes sent")
	descVarzMem      = varzDesc("mem", "Resident memory of the process")
	descVarzSlow     = varzDesc("slow_consumers", "Clients disconnected for being slow consumers")
)

// Describe implements prometheus.Collector.
func (c *natsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJSStreams, descJSConsumers, descJSMessages, descJSBytes, descJSMaxStore,
		descStreamMsgs, descStreamBytes, descStreamFirstSeq, descStreamLastSeq, descStreamConsumers, descStreamMaxBytes,
		descConsDelivered, descConsAckPending, descConsRedeliv, descConsPending,
		descVarzConns, descVarzInMsgs, descVarzOutMsgs, descVarzInBytes, descVarzOutBytes, descVarzMem, descVarzSlow} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *natsCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if v, err := c.ns.Varz(nil); err == nil {
		gauge(descVarzConns, float64(v.Connections), v.ID)
		counter(descVarzInMsgs, float64(v.InMsgs), v.ID)
		counter(descVarzOutMsgs, float64(v.OutMsgs), v.ID)
		counter(descVarzInBytes, float64(v.InBytes), v.ID)
		counter(descVarzOutBytes, float64(v.OutBytes), v.ID)
		gauge(descVarzMem, float64(v.Mem), v.ID)
		counter(descVarzSlow, float64(v.SlowConsumers), v.ID)
	}
	js, err := c.ns.Jsz(&server.JSzOptions{Accounts: true, Streams: true, Consumer: true, Config: true})
	if err != nil || js.Disabled {
		return
	}
	// One embedded server: its own meta leader, leader of every stream.
	name := c.ns.Name()
	srv := []string{js.ID, name, "", js.Config.Domain, name, "true"}
	gauge(descJSStreams, float64(js.Streams), srv...)
	gauge(descJSConsumers, float64(js.Consumers), srv...)
	gauge(descJSMessages, float64(js.Messages), srv...)
	gauge(descJSBytes, float64(js.Bytes), srv...)
	gauge(descJSMaxStore, float64(js.Config.MaxStore), srv...)
	for _, acc := range js.AccountDetails {
		for _, st := range acc.Streams {
			sl := append(append([]string{}, srv...), acc.Name, acc.Id, st.Name, name, "true")
			gauge(descStreamMsgs, float64(st.State.Msgs), sl...)
			gauge(descStreamBytes, float64(st.State.Bytes), sl...)
			gauge(descStreamFirstSeq, float64(st.State.FirstSeq), sl...)
			gauge(descStreamLastSeq, float64(st.State.LastSeq), sl...)
			gauge(descStreamConsumers, float64(st.State.Consumers), sl...)
			if st.Config != nil {
				gauge(descStreamMaxBytes, float64(st.Config.MaxBytes), st.Name)
			}
			for _, ci := range st.Consumer {
				desc := ""
				if ci.Config != nil {
					desc = ci.Config.Description
				}
				cl := append(append([]string{}, sl...), ci.Name, name, "true", desc, ci.Created.UTC().Format("2006-01-02T15:04:05Z07:00"))
				gauge(descConsDelivered, float64(ci.Delivered.Stream), cl...)
				gauge(descConsAckPending, float64(ci.NumAckPending), cl...)
				gauge(descConsRedeliv, float64(ci.NumRedelivered), cl...)
				gauge(descConsPending, float64(ci.NumPending), cl...)
			}
		}
	}
}
