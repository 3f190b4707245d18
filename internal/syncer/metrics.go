package syncer

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus series, registered on the engine's own
// registry (never the global one) so several engines, or an engine inside
// the provider, never collide.
type metrics struct {
	connected   *prometheus.GaugeVec
	duration    *prometheus.HistogramVec
	events      *prometheus.CounterVec
	vms         *prometheus.GaugeVec
	drifted     *prometheus.GaugeVec
	lastErrorTS *prometheus.GaugeVec
	owned       *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "virtumancer_sync_host_connected",
			Help: "1 while the engine holds a working libvirt connection to the host, else 0.",
		}, []string{"host"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "virtumancer_sync_duration_seconds",
			Help: "Duration of full syncs of one host: fetching every domain and the write transaction.",
			// From a handful of domains on a local daemon to thousands over ssh.
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"host"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "virtumancer_sync_events_total",
			Help: "Libvirt lifecycle events received from the host, by event type.",
		}, []string{"host", "type"}),
		vms: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "virtumancer_sync_vms",
			Help: "Domains on the host as of the last sync or event.",
		}, []string{"host"}),
		drifted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "virtumancer_sync_drifted_vms",
			Help: "Domains whose live configuration differs from the recorded config_json.",
		}, []string{"host"}),
		lastErrorTS: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "virtumancer_sync_last_error_timestamp_seconds",
			Help: "Unix time of the last connection or sync error of the host (0: none since start).",
		}, []string{"host"}),
		owned: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "virtumancer_sync_host_owned",
			Help: "1 while this replica holds the host's claim and syncs it, 0 while another replica does (PostgreSQL stores shared by several replicas).",
		}, []string{"host"}),
	}
	reg.MustRegister(m.connected, m.duration, m.events, m.vms, m.drifted, m.lastErrorTS, m.owned)
	return m
}

// initHost creates every per-host series at zero so dashboards and alerts
// see a host the moment it is configured, not after its first error.
func (m *metrics) initHost(host string) {
	m.connected.WithLabelValues(host).Set(0)
	m.vms.WithLabelValues(host)
	m.drifted.WithLabelValues(host)
	m.lastErrorTS.WithLabelValues(host)
	m.duration.WithLabelValues(host)
}

// forgetHost drops a removed host's series so it stops being exported.
func (m *metrics) forgetHost(host string) {
	labels := prometheus.Labels{"host": host}
	m.connected.DeletePartialMatch(labels)
	m.duration.DeletePartialMatch(labels)
	m.events.DeletePartialMatch(labels)
	m.vms.DeletePartialMatch(labels)
	m.drifted.DeletePartialMatch(labels)
	m.lastErrorTS.DeletePartialMatch(labels)
	m.owned.DeletePartialMatch(labels)
}
