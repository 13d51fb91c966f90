#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian 12 machine (as root) and runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  nginx libnginx-mod-stream bind9-dnsutils dnsmasq-base dnsperf wrk curl socat netcat-openbsd \
  iptables iproute2 docker.io busybox-static docker-compose debootstrap etcd-server etcd-client chromium chromium-driver >/dev/null
# systemd-analyze verifies the contrib/systemd units (tests/test_systemd.py); ~10 MB, no service started.
apt-get install -y -qq --no-install-recommends systemd >/dev/null
# Node.js for the npm client tests: Debian's packages unless a Node.js with npm is already there
# (a nodesource nodejs bundles npm and conflicts with Debian's npm package).
command -v npm >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
# Debian's own python3 marks itself externally managed; this machine is dedicated to the tests.
export PIP_BREAK_SYSTEM_PACKAGES=1
python3 -m pip --version >/dev/null 2>&1 || apt-get install -y -qq python3-pip python3-dev >/dev/null
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
# A private Docker engine for the registrator tests; stopped when the run ends.
bash scripts/dockerd.sh start
trap 'bash scripts/dockerd.sh stop' EXIT
export DOCKER_HOST=unix:///tmp/pyconsul-dockerd/docker.sock
# No registry: the Dockerfile's python:3.11-slim-bookworm base is built from the Debian mirror (about 80 s
# once; a no-op when the engine already has it). tests/compose runs the docker-compose.yml stack.
bash scripts/build-base-image.sh
python3 -m ruff check .
python3 -m pytest -n 3 --dist loadgroup -q -p no:cacheprovider -m "not npm_acceptance" "$@"
# The npm consul client's own acceptance suite (../shared/vendor/node-consul-2.0.1-acceptance), on a
# quiet machine: some of its cases time the client's retry timers to ±20 ms. Prints its pass count.
python3 -m pytest -q -p no:cacheprovider -m npm_acceptance tests/npm_client
