#!/bin/sh
# Entry point of the pyconsul image, shaped like Consul's official one:
#   flags only (`-server ...`)      → pyconsul agent <flags>
#   pyconsul|pyregistrator|pytemplate|any command on PATH → run it
#   anything else (`members`, `kv get x`) → a pyconsul subcommand
set -e
# The compose stack's tls profile: an agent whose <hostname>.json is in PYCONSUL_TLS_DIR loads it.
tls_config() {
  f="${PYCONSUL_TLS_DIR:-}/${HOSTNAME:-$(cat /etc/hostname)}.json"
  if [ -n "${PYCONSUL_TLS_DIR:-}" ] && [ -f "$f" ]; then echo "-config-file=$f"; fi
}
case "${1:-}" in
  -*) exec python -m pyconsul agent "$@" $(tls_config) ;;
  agent) shift; exec python -m pyconsul agent "$@" $(tls_config) ;;
  pyconsul|consul) shift; exec python -m pyconsul "$@" ;;
  pyregistrator|registrator) shift; exec python -m pyregistrator "$@" ;;
  pytemplate|consul-template) shift; exec python -m pytemplate "$@" ;;
esac
if command -v "$1" >/dev/null 2>&1; then exec "$@"; fi
exec python -m pyconsul "$@"
