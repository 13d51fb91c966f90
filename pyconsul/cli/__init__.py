"""Consul-compatible command line. One module per command group."""
