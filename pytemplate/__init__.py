"""pytemplate: a consul-template replacement driven by Consul blocking queries."""
