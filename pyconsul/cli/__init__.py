"""Consul-compatible command line. One module per command group.

- registry.py   command table, `consul` usage/group help, lazy loading by first word
- flags.py      Go-style flag parsing and Consul's help layout (every command)
- http.py       the HTTP client (http_config.py: flags/env/TLS; http_errors.py: Go wording)
- common.py     new_flags / connect / DATA arguments / child processes (see its docstring)
- output.py     columnize, tabwriter, Go JSON
- <word>_cmd.py the commands; pure helpers beside them (kv_common, lock_kv, watch_plan,
                service_files; the snapshot archive format is pyconsul/snapshot_archive.py)
"""
