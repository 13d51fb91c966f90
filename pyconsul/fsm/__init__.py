"""The replicated state machine: typed commands and the deterministic function applying them."""
