"""Consul's DNS interface: pure name parsing and resolution, record encoding, a reply cache, and thin
asyncio UDP/TCP listeners (`start_dns_server`)."""
