"""The state store: the single source of truth that every view (HTTP, DNS, UI, CLI) reads."""
