"""pyconsul: a pure-Python, Consul-compatible service-discovery agent."""

__version__ = "0.1.0"
# The Consul version we present to clients (agent/self Config.Version, members Build).
CONSUL_COMPAT_VERSION = "1.17.0"
