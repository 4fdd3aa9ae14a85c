// Package monitoring holds what ties the consumer's Prometheus metrics to
// Grafana: prometheus.yml, a scrape config for spacepulse-consumer
// -metrics-addr, and the tests that check every PromQL expression of the
// provisioned dashboards (grafana/provisioning) against the metrics
// consumers/ingest.RegisterMetrics really exports. It lives under deployments/
// because only deployments may import both the consumer and read the plugin's
// provisioning; it has no code of its own.
package monitoring
