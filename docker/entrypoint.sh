#!/bin/sh
# Entry point of the pyconsul image, shaped like Consul's official one:
#   flags only (`-server ...`)      → pyconsul agent <flags>
#   pyconsul|pyregistrator|pytemplate|any command on PATH → run it
#   anything else (`members`, `kv get x`) → a pyconsul subcommand
set -e
case "${1:-}" in
  -*) exec python -m pyconsul agent "$@" ;;
  pyconsul|consul) shift; exec python -m pyconsul "$@" ;;
  pyregistrator|registrator) shift; exec python -m pyregistrator "$@" ;;
  pytemplate|consul-template) shift; exec python -m pytemplate "$@" ;;
esac
if command -v "$1" >/dev/null 2>&1; then exec "$@"; fi
exec python -m pyconsul "$@"
