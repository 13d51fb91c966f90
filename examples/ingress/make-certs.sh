#!/usr/bin/env bash
# Certificates for the ingress examples, all made by our own `tls` commands, into DIR:
#   consul-agent-ca.pem        the CA nginx and the passthrough backend trust
#   edge.pem / edge-key.pem    nginx's certificate for *.DOMAIN (termination, re-encrypt)
#   backend-NAME.pem/-key.pem  an HTTPS backend's certificate, DNS SANs NAME and NAME.DOMAIN
#   client.pem / client-key.pem  a client certificate for the passthrough backends
#   usage: make-certs.sh DIR DOMAIN [BACKEND_NAME...]       (CONSUL: how to run `consul`)
set -euo pipefail
DIR=$1 DOMAIN=$2; shift 2
CONSUL=${CONSUL:-python3 -m pyconsul}
mkdir -p "$DIR" && cd "$DIR"
[ -f consul-agent-ca.pem ] || $CONSUL tls ca create >/dev/null
# `tls cert create` names its files <dc>-<kind>-consul-<N>.pem with the lowest free N; take the
# newest pair under a fixed name.
issue() {  # issue TARGET KIND [flags...]
  local target=$1 kind=$2; shift 2
  $CONSUL tls cert create "-$kind" "$@" >/dev/null
  local pem; pem=$(ls -t dc1-"$kind"-consul-*.pem | grep -v -- -key.pem | head -1)
  mv "$pem" "$target.pem"; mv "${pem%.pem}-key.pem" "$target-key.pem"
}
issue edge server "-additional-dnsname=*.$DOMAIN"
for name in "$@"; do
  issue "backend-$name" server "-additional-dnsname=$name" "-additional-dnsname=$name.$DOMAIN"
done
issue client client
