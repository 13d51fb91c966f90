"""`consul tls ca create` and `consul tls cert create`: the agent CA and agent certificates.

The certificates are built by `pyconsul.tls.certs` (pure); this module reads the CA, picks the
file names (`<domain>-agent-ca.pem`, `<dc>-<kind>-<domain>-<N>.pem` with the lowest free N) and
writes them atomically: certificates mode 0666 less the umask, keys 0600. Every line goes to
stdout as Consul prints it; errors go to stderr with exit code 1.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import tempfile

from pyconsul.cli.flags import FlagSet
from pyconsul.cli.output import error, info
from pyconsul.cli.registry import register, register_group

GROUP_HELP = """
Usage: consul tls <subcommand> <subcommand> [options]

  This command has subcommands for interacting with Consul TLS.

  Here are some simple examples, and more detailed examples are available
  in the subcommands or the documentation.

  Create a CA

    $ consul tls ca create

  Create a server certificate

    $ consul tls cert create -server

  Create a client certificate

    $ consul tls cert create -client

  For more examples, ask for subcommand help or view the documentation.
"""

CA_GROUP_HELP = """
Usage: consul tls ca <subcommand> [options]

  This command has subcommands for interacting with Consul TLS CAs.

  Create a CA

    $ consul tls ca create

  For more examples, ask for subcommand help or view the documentation.
"""

CERT_GROUP_HELP = """
Usage: consul tls cert <subcommand> [options]

  This command has subcommands for interacting with certificates.

  Create a certificate

    $ consul tls cert create -server

  Create a certificate with your own CA:

    $ consul tls cert create -server -ca my-ca.pem -key my-ca-key.pem

  For more examples, ask for subcommand help or view the documentation.
"""

CA_CREATE_HELP = """
Usage: consul tls ca create [options]

  Create a new consul CA:

  $ consul tls ca create
  ==> saved consul-agent-ca.pem
  ==> saved consul-agent-ca-key.pem
"""

CERT_CREATE_HELP = """
Usage: consul tls cert create [options]

  Create a new consul certificate:

  $ consul tls cert create -server
  ==> WARNING: Server Certificates grants authority to become a
      server and access all state in the cluster including root keys
      and all ACL tokens. Do not distribute them to production hosts
      that are not server nodes. Store them as securely as CA keys.
  ==> Using consul-agent-ca.pem and consul-agent-ca-key.pem
  ==> Saved dc1-server-consul-0.pem
  ==> Saved dc1-server-consul-0-key.pem
  $ consul tls cert create -client
  ==> Using consul-agent-ca.pem and consul-agent-ca-key.pem
  ==> Saved dc1-client-consul-0.pem
  ==> Saved dc1-client-consul-0-key.pem
"""

SERVER_WARNING = """==> WARNING: Server Certificates grants authority to become a
    server and access all state in the cluster including root keys
    and all ACL tokens. Do not distribute them to production hosts
    that are not server nodes. Store them as securely as CA keys."""

MAX_INDEX = 10000  # the highest <N> tried for a free certificate file name


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _go_open_error(path: str, exc: OSError) -> str:
    """Go's *PathError text: `open <path>: no such file or directory`."""
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    return f"open {path}: {reason}"


def write_atomic(path: str, data: str, mode: int) -> None:
    """Write through a temporary file in the same directory, then rename over `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, mode & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _exists(path: str) -> bool:
    return os.path.lexists(path)


def ca_create(argv: list[str]) -> int:
    fs = FlagSet(CA_CREATE_HELP)
    fs.int("days", 1825, "Provide number of days the CA is valid for from now on. Defaults to 5 years.")
    fs.string("domain", "consul", "Domain of consul cluster. Only used in combination with -name-constraint. "
                                  "Defaults to consul.")
    fs.bool("name-constraint", False,
            "Add name constraints for the CA. Results in rejecting certificates for other DNS than specified. "
            "If turned on localhost and -domain will be added to the allowed DNS. If the UI is going to be "
            "served over HTTPS its DNS has to be added with -additional-constraint. It is not possible to add "
            "that after the fact! Defaults to false.")
    fs.list("additional-name-constraint",
            "Add name constraints for the CA. Results in rejecting certificates for other DNS than specified. "
            "Can be used multiple times. Only used in combination with -name-constraint.", placeholder="value")
    fs.string("cluster-id", "", "ClusterID of the consul cluster, requires -domain to be set as well. When used "
                                "will set URIs with spiffeid.")
    fs.string("common-name", "", "Common Name of CA. Defaults to Consul Agent CA.")
    opts = fs.parse(argv)
    if opts.args:
        error("Should have no non-flag arguments.")
        return 1
    from pyconsul.tls.certs import build_ca, ca_constraints

    domain: str = opts["domain"]
    cert_file, key_file = f"{domain}-agent-ca.pem", f"{domain}-agent-ca-key.pem"
    for name in (cert_file, key_file):
        if _exists(name):
            error(f"{name} already exists.")
            return 1
    constraints = ca_constraints(domain, tuple(opts["additional-name-constraint"])) if opts["name-constraint"] else ()
    uris = (f"spiffe://{opts['cluster-id']}.{domain}",) if opts["cluster-id"] else ()
    pair = build_ca(_now(), opts["days"], common_name=opts["common-name"], constraints=constraints, uri_sans=uris)
    try:
        write_atomic(cert_file, pair.cert, 0o666)
        info(f"==> Saved {cert_file}")
        write_atomic(key_file, pair.key, 0o600)
        info(f"==> Saved {key_file}")
    except OSError as exc:
        error(_go_open_error(exc.filename or cert_file, exc))
        return 1
    return 0


def _kind(opts_server: bool, opts_client: bool, opts_cli: bool) -> str | None:
    chosen = [k for k, on in (("server", opts_server), ("client", opts_client), ("cli", opts_cli)) if on]
    return chosen[0] if len(chosen) == 1 else None


def free_names(prefix: str) -> tuple[str, str] | None:
    """The first `<prefix>-<N>.pem` / `<prefix>-<N>-key.pem` pair of which neither file exists."""
    for i in range(MAX_INDEX + 1):
        cert, key = f"{prefix}-{i}.pem", f"{prefix}-{i}-key.pem"
        if not _exists(cert) and not _exists(key):
            return cert, key
    return None


def cert_create(argv: list[str]) -> int:
    fs = FlagSet(CERT_CREATE_HELP)
    fs.string("ca", "#DOMAIN#-agent-ca.pem", "Provide path to the ca. Defaults to #DOMAIN#-agent-ca.pem.")
    fs.string("key", "#DOMAIN#-agent-ca-key.pem", "Provide path to the key. Defaults to #DOMAIN#-agent-ca-key.pem.")
    fs.bool("server", False, "Generate server certificate.")
    fs.bool("client", False, "Generate client certificate.")
    fs.bool("cli", False, "Generate cli certificate.")
    fs.string("node", "", "When generating a server cert and this is set an additional dns name is included of "
                          "the form <node>.server.<datacenter>.<domain>.")
    fs.int("days", 365, "Provide number of days the certificate is valid for from now on. Defaults to 1 year.")
    fs.string("dc", "dc1", "Provide the datacenter. Matters only for -server certificates.")
    fs.string("domain", "consul", "Provide the domain. Matters only for -server certificates.")
    fs.list("additional-dnsname", "Provide an additional dnsname for Subject Alternative Names. localhost is "
                                  "always included. This flag may be provided multiple times.", placeholder="string")
    fs.list("additional-ipaddress", "Provide an additional ipaddress for Subject Alternative Names. 127.0.0.1 is "
                                    "always included. This flag may be provided multiple times.",
            placeholder="string")
    opts = fs.parse(argv)
    if opts.args:
        error("Should have no non-flag arguments.")
        return 1
    if not opts["ca"]:
        error("Please provide the ca")
        return 1
    if not opts["key"]:
        error("Please provide the key")
        return 1
    kind = _kind(opts["server"], opts["client"], opts["cli"])
    if kind is None:
        error("Please provide either -server, -client, or -cli")
        return 1
    if opts["node"] and kind != "server":
        error("-node requires -server")
        return 1
    from pyconsul.tls.certs import CertError, build_leaf, leaf_names

    dns_names = tuple(d.strip() for d in opts["additional-dnsname"] if d.strip())
    ips = []
    for raw in opts["additional-ipaddress"]:
        if not raw.strip():
            continue
        try:
            ips.append(ipaddress.ip_address(raw.strip()))
        except ValueError:
            error(f"Invalid IP address: {raw.strip()}")
            return 1
    names = leaf_names(kind, opts["dc"], opts["domain"], opts["node"], dns_names, tuple(ips))
    files = free_names(names.file_prefix)
    if files is None:
        error("Could not find a filename that doesn't already exist")
        return 1
    cert_file, key_file = files
    ca_file = opts["ca"].replace("#DOMAIN#", opts["domain"], 1)
    ca_key_file = opts["key"].replace("#DOMAIN#", opts["domain"], 1)
    try:
        with open(ca_file, "rb") as fh:
            ca_pem = fh.read()
    except OSError as exc:
        error(f"Error reading CA: {_go_open_error(ca_file, exc)}")
        return 1
    try:
        with open(ca_key_file, "rb") as fh:
            ca_key_pem = fh.read()
    except OSError as exc:
        error(f"Error reading CA key: {_go_open_error(ca_key_file, exc)}")
        return 1
    if kind == "server":
        info(SERVER_WARNING)
    info(f"==> Using {ca_file} and {ca_key_file}")
    try:
        pair = build_leaf(ca_pem, ca_key_pem, names, _now(), opts["days"])
    except CertError as exc:
        error(str(exc))
        return 1
    try:
        write_atomic(cert_file, pair.cert, 0o666)
        info(f"==> Saved {cert_file}")
        write_atomic(key_file, pair.key, 0o600)
        info(f"==> Saved {key_file}")
    except OSError as exc:
        error(_go_open_error(exc.filename or cert_file, exc))
        return 1
    return 0


register_group(("tls",), "Builtin helpers for creating CAs and certificates", GROUP_HELP)
register_group(("tls", "ca"), "Helpers for CAs", CA_GROUP_HELP)
register_group(("tls", "cert"), "Helpers for certificates", CERT_GROUP_HELP)
register(("tls", "ca", "create"), ca_create, "Create a new consul CA")
register(("tls", "cert", "create"), cert_create, "Create a new certificate")
