"""The one Consul HTTP client core the CLI, pytemplate and pyregistrator share.

- `settings`: `ClientSettings` (address, scheme, token, datacenter, TLS files) built in one place
  from the `CONSUL_*` environment and each program's flags, with Consul's precedence. No other
  module reads `CONSUL_HTTP_ADDR`, `CONSUL_HTTP_TOKEN`, `CONSUL_CACERT` and friends.
- `tls`: the one function that builds the outgoing `ssl.SSLContext`.
- `request`: URL building, query encoding and the headers every request carries (token, auth).
- `errors`: what a request fails with, worded as Consul's Go client words it.
- `sync`: the blocking keep-alive transport (the CLI); `aio`: the aiohttp one (pytemplate,
  pyregistrator).

Nothing is imported here so a CLI call pays only for the modules it uses.
"""
