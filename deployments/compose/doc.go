// Package compose holds the Docker deployment of spacepulse (docker-compose.yml, the Dockerfile
// of the spacepulse binaries, the ClickHouse, Prometheus and Grafana files they mount; see
// README.md) and the tests that check it without a Docker engine: docker-compose config
// validates the file, the cross-reference test checks its names, ports, mounts and secrets
// against the repository and the binaries' flags, and the build test runs the Dockerfile's
// build stage against this checkout. It has no code of its own.
package compose
