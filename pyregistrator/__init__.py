"""Register Docker containers as Consul services, as gliderlabs/registrator does."""
