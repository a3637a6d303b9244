"""obsgen: YAML service specs compiled into Grafana dashboards and Prometheus rules."""
