"""Prepared queries, pure: definitions (definition.py), template rendering (template.py) and
execution over health entries (execute.py). The HTTP handlers (api/query.py) and DNS
(`<name>.query.consul`) both run queries through `execute.run`."""
