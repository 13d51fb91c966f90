"""Consul-compatible command line. One module per command group.

- registry.py   command table, `consul` usage/group help, lazy loading by first word
- flags.py      Consul's FlagSet and help layout (Go's flag rules: pyconsul/gocompat)
- http.py       the HTTP API flags onto pyconsul/client (settings, TLS, transport, errors)
- common.py     new_flags / connect / DATA arguments / child processes (see its docstring)
- output.py     columnize, tabwriter, Go JSON
- <word>_cmd.py the commands; pure helpers beside them (kv_common, lock_kv, watch_plan,
                service_files; the snapshot archive format is pyconsul/snapshot_archive.py)
"""
