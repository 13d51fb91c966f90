"""TLS for the agent's listeners: contexts built from the config's CA, cert and key files."""
