"""Exporters: Prometheus alert-rules.yaml and Grafana dashboard JSON from the config thresholds."""
