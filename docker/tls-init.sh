#!/bin/sh
# One-shot init of the compose stack's `tls` profile: into /consul/tls (a volume) the agent CA, one
# certificate per agent named on the command line, one for the CLI, all made by our `tls`
# commands, a gossip key from `keygen`, and per agent <node>.json that the entry point loads
# (PYCONSUL_TLS_DIR): HTTPS on 8501 requiring a client certificate from the CA, mutual TLS on the
# server port (Raft and forwarded requests; a server must show a server.<dc>.consul certificate)
# and encrypted gossip; with INGRESS_DOMAIN, nginx's edge certificate edge.pem for *.INGRESS_DOMAIN
# (examples/ingress), and for each name in INGRESS_BACKENDS an HTTPS backend's
# backend-NAME.pem (DNS SANs NAME and NAME.INGRESS_DOMAIN, as examples/ingress/make-certs.sh makes
# them). Does nothing when the CA is already there.
set -eu
cd /consul/tls
if [ -f consul-agent-ca.pem ]; then echo "certificates already in /consul/tls"; exit 0; fi
python -m pyconsul tls ca create
# The key lives in the volume with the certificates, never in the compose file.
gossip_key=$(python -m pyconsul keygen)
issue() {  # issue KIND TARGET [flags...]: the newest <dc>-KIND-consul-N pair, renamed TARGET
  kind=$1 target=$2; shift 2
  python -m pyconsul tls cert create "-$kind" "$@" >/dev/null
  pem=$(ls -t dc1-"$kind"-consul-*.pem | grep -v -- -key.pem | head -1)
  mv "$pem" "$target.pem"; mv "${pem%.pem}-key.pem" "$target-key.pem"
}
for node in "$@"; do
  case $node in
    server*) issue server "$node" "-node=$node" "-additional-dnsname=$node" ;;
    *) issue client "$node" "-additional-dnsname=$node" ;;
  esac
  cat >"$node.json" <<JSON
{"ports": {"https": 8501}, "verify_incoming_https": true,
 "verify_incoming_rpc": true, "verify_outgoing": true, "verify_server_hostname": true,
 "encrypt": "$gossip_key",
 "ca_file": "/consul/tls/consul-agent-ca.pem",
 "cert_file": "/consul/tls/$node.pem", "key_file": "/consul/tls/$node-key.pem"}
JSON
done
issue cli cli
if [ -n "${INGRESS_DOMAIN:-}" ]; then
  issue server edge "-additional-dnsname=*.$INGRESS_DOMAIN"
  for name in ${INGRESS_BACKENDS:-}; do
    issue server "backend-$name" "-additional-dnsname=$name" "-additional-dnsname=$name.$INGRESS_DOMAIN"
  done
fi
ls
