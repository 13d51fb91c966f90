"""Config entries as Consul defines them: decoding and validating each kind, the discovery chain."""
