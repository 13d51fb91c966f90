"""The agent: wires the store, consensus, local state, checks and listeners together."""
