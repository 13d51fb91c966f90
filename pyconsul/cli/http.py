"""The CLI's side of the client core: Consul's HTTP API flags and the Client every command uses.

Use it like this in a command:

    fs = FlagSet(HELP)
    add_http_flags(fs)                  # -http-addr, -token, TLS flags, -datacenter, -stale
    opts = fs.parse(argv)
    client = client_from_flags(opts)    # raises ConfigError for bad env/flags
    value, meta = client.get_json("/v1/agent/self")

Flags given on the command line are laid over the CONSUL_* environment by
`pyconsul.client.settings` (flags win); this module only says which flag is which setting.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyconsul.cli.flags import FlagSet, Parsed
from pyconsul.client.errors import ConfigError, ConsulError, StatusError, TransportError
from pyconsul.client.settings import ClientOverrides, ClientSettings, settings_from_env
from pyconsul.client.sync import Client, Response

__all__ = [
    "Client", "ClientSettings", "ConfigError", "ConsulError", "Response", "StatusError", "TransportError",
    "add_http_flags", "client_from_flags", "settings_from_flags",
]

_CLIENT_FLAGS: list[tuple[str, str]] = [
    ("http-addr",
     "The `address` and port of the Consul HTTP agent. The value can be an IP address or DNS "
     "address, but it must also include the port. This can also be specified via the "
     "CONSUL_HTTP_ADDR environment variable. The default value is http://127.0.0.1:8500. The "
     "scheme can also be set to HTTPS by setting the environment variable CONSUL_HTTP_SSL=true."),
    ("token",
     "ACL token to use in the request. This can also be specified via the CONSUL_HTTP_TOKEN "
     "environment variable. If unspecified, the query will default to the token of the Consul "
     "agent at the HTTP address."),
    ("token-file",
     "File containing the ACL token to use in the request instead of one specified via the "
     "-token argument or CONSUL_HTTP_TOKEN environment variable. This can also be specified via "
     "the CONSUL_HTTP_TOKEN_FILE environment variable."),
    ("ca-file",
     "Path to a CA file to use for TLS when communicating with Consul. This can also be "
     "specified via the CONSUL_CACERT environment variable."),
    ("ca-path",
     "Path to a directory of CA certificates to use for TLS when communicating with Consul. "
     "This can also be specified via the CONSUL_CAPATH environment variable."),
    ("client-cert",
     "Path to a client cert file to use for TLS when 'verify_incoming' is enabled. This can "
     "also be specified via the CONSUL_CLIENT_CERT environment variable."),
    ("client-key",
     "Path to a client key file to use for TLS when 'verify_incoming' is enabled. This can also "
     "be specified via the CONSUL_CLIENT_KEY environment variable."),
    ("tls-server-name",
     "The server name to use as the SNI host when connecting via TLS. This can also be "
     "specified via the CONSUL_TLS_SERVER_NAME environment variable."),
]


def add_http_flags(fs: FlagSet, *, server: bool = True) -> None:
    """Consul's HTTP API options; `server=False` leaves out -datacenter and -stale (e.g. event)."""
    for name, usage in _CLIENT_FLAGS:
        fs.string(name, "", usage, placeholder="value", group="http")
    if server:
        fs.string("datacenter", "", "Name of the datacenter to query. If unspecified, this will "
                  "default to the datacenter of the queried agent.", placeholder="value", group="http")
        fs.bool("stale", False, "Permit any Consul server (non-leader) to respond to this request. "
                "This allows for lower latency and higher throughput, but can result in stale "
                "data. This option has no effect on non-read operations. The default value is "
                "false.", group="http")


def settings_from_flags(opts: Parsed, env: Mapping[str, str] | None = None) -> ClientSettings:
    """The environment, then any HTTP flag the user gave a value on the command line."""
    flag = opts.values

    def given(name: str) -> str | None:
        return flag.get(name) or None  # an empty -flag= value leaves the environment's

    token = given("token")
    return settings_from_env(env).with_overrides(ClientOverrides(
        address=given("http-addr"),
        token=token,
        token_file=None if token else given("token-file"),  # -token beats -token-file
        ca_file=given("ca-file"), ca_path=given("ca-path"),
        cert_file=given("client-cert"), key_file=given("client-key"),
        tls_server_name=given("tls-server-name"), datacenter=given("datacenter"),
        stale=bool(flag.get("stale", False)),
    ))


def client_from_flags(opts: Parsed, env: Mapping[str, str] | None = None,
                      timeout: float | None = None) -> Client:
    return Client(settings_from_flags(opts, env), timeout=timeout)
