"""Generated artefacts from the one policy file: Prometheus rules, Grafana dashboards,
Alertmanager routes and the deploy settings that must agree with them."""
