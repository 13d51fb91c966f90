"""LAN gossip membership in the manner of SWIM/memberlist.

`core.GossipCore` is the pure protocol (no sockets, injected clock and random source);
`transport.GossipTransport` carries its packets over UDP with a TCP fallback; `membership.Membership`
is the facade the agent uses.
"""
