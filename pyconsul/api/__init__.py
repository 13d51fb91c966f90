"""Consul's HTTP API: a thin view over the state store and the agent."""
