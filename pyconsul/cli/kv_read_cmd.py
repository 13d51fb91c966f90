"""`consul kv get` and `consul kv export`."""

from __future__ import annotations

import base64

from pyconsul.cli.common import connect, new_flags
from pyconsul.cli.http import ConsulError
from pyconsul.cli.kv_common import detailed_block, pair_value, strip_leading_slash, write_out
from pyconsul.cli.output import error, go_json, info
from pyconsul.cli.registry import register

GET_SYNOPSIS = "Retrieves or lists data from the KV store"
GET_HELP = """
Usage: consul kv get [options] [KEY_OR_PREFIX]

  Retrieves the value from Consul's key-value store at the given key name. If no
  key exists with that name, an error is returned. If a key exists with that
  name but has no data, nothing is returned. If the name or prefix is omitted,
  it defaults to "" which is the root of the key-value store.

  To retrieve the value for the key named "foo" in the key-value store:

      $ consul kv get foo

  This will return the original, raw value stored in Consul. To view detailed
  information about the key, specify the "-detailed" flag. This will output all
  known metadata about the key including ModifyIndex and any user-supplied
  flags:

      $ consul kv get -detailed foo

  To treat the path as a prefix and list all keys which start with the given
  prefix, specify the "-recurse" flag:

      $ consul kv get -recurse foo

  This will return all key-value pairs. To just list the keys which start with
  the specified prefix, use the "-keys" option instead:

      $ consul kv get -keys foo

  For a full list of options and examples, please see the Consul documentation.
"""

EXPORT_SYNOPSIS = "Exports a tree from the KV store as JSON"
EXPORT_HELP = """
Usage: consul kv export [KEY_OR_PREFIX]

  Retrieves key-value pairs for the given prefix from Consul's key-value store,
  and writes a JSON representation to stdout. This can be used with the command
  "consul kv import" to move entire trees between Consul clusters.

      $ consul kv export vault

  For a full list of options and examples, please see the Consul documentation.
"""


def kv_get(argv: list[str]) -> int:
    fs = new_flags(GET_HELP)
    fs.bool("base64", False, "Base64 encode the value. The default value is false.")
    fs.bool("detailed", False, "Provide additional metadata about the key in addition to the value "
            "such as the ModifyIndex and any flags that may have been set on the key. The default "
            "value is false.")
    fs.bool("keys", False, "List keys which start with the given prefix, but not their values. "
            "This is especially useful if you only need the key names themselves. This option is "
            "commonly combined with the -separator option. The default value is false.")
    fs.bool("recurse", False, "Recursively look at all keys prefixed with the given path. The "
            "default value is false.")
    fs.string("separator", "/", 'String to use as a separator between keys. The default value is '
              '"/", but this option is only taken into account when paired with the -keys flag.')
    opts = fs.parse(argv)
    if len(opts.args) > 1:
        error(f"Too many arguments (expected 1, got {len(opts.args)})")
        return 1
    key = strip_leading_slash(opts.args[0] if opts.args else "")
    if not key and not (opts["recurse"] or opts["keys"]):
        error("Error! Missing KEY argument")
        return 1
    client = connect(opts)
    try:
        if opts["keys"]:
            params = {"keys": ""}
            if opts["separator"]:
                params["separator"] = opts["separator"]
            keys, _ = client.get_json_or_none(f"/v1/kv/{key}", params)
            for k in keys or []:
                info(k)
            return 0
        if opts["recurse"]:
            pairs, _ = client.get_json_or_none(f"/v1/kv/{key}", {"recurse": ""})
            pairs = pairs or []
            for i, pair in enumerate(pairs):
                if opts["detailed"]:
                    write_out(detailed_block(pair, opts["base64"]))
                    if i < len(pairs) - 1:
                        info("")
                else:
                    value = pair_value(pair)
                    shown = base64.b64encode(value) if opts["base64"] else value
                    write_out(pair["Key"].encode() + b":" + shown)
            return 0
        pairs, _ = client.get_json_or_none(f"/v1/kv/{key}")
    except ConsulError as exc:
        error(f"Error querying Consul agent: {exc}")
        return 1
    if not pairs:
        error(f"Error! No key exists at: {key}")
        return 1
    pair = pairs[0]
    if opts["detailed"]:
        write_out(detailed_block(pair, opts["base64"]))
        return 0
    value = pair_value(pair)
    write_out(base64.b64encode(value) if opts["base64"] else value)
    return 0


def kv_export(argv: list[str]) -> int:
    fs = new_flags(EXPORT_HELP)
    opts = fs.parse(argv)
    if len(opts.args) > 1:
        error(f"Too many arguments (expected 1, got {len(opts.args)})")
        return 1
    key = strip_leading_slash(opts.args[0] if opts.args else "")
    client = connect(opts)
    try:
        pairs, _ = client.get_json_or_none(f"/v1/kv/{key}", {"recurse": ""})
    except ConsulError as exc:
        error(f"Error querying Consul agent: {exc}")
        return 1
    entries = [
        {"key": p["Key"], "flags": p.get("Flags", 0),
         "value": base64.b64encode(pair_value(p)).decode()}
        for p in pairs or []
    ]
    info(go_json(entries, indent="\t"))
    return 0


register(("kv", "get"), kv_get, GET_SYNOPSIS)
register(("kv", "export"), kv_export, EXPORT_SYNOPSIS)
