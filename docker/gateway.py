"""Print this container's IPv4 default gateway (stdlib only): on a Docker bridge network, the
host's address on that network, where the containers reach published host ports.

Read from /proc/net/route, so it holds whatever subnet Docker picked for the network.
"""

from __future__ import annotations

import socket
import struct
import sys


def default_gateway(route_table: str) -> str | None:
    """The gateway of the default route in /proc/net/route's text, or None."""
    for line in route_table.splitlines()[1:]:
        fields = line.split()
        # Iface Destination Gateway Flags ...; destination 0 = default, flag 0x2 = RTF_GATEWAY
        if len(fields) >= 4 and fields[1] == "00000000" and int(fields[3], 16) & 0x2:
            return socket.inet_ntoa(struct.pack("<L", int(fields[2], 16)))
    return None


if __name__ == "__main__":
    with open("/proc/net/route") as f:
        gateway = default_gateway(f.read())
    if gateway is None:
        sys.exit("no default route: set REGISTRATOR_IP")
    print(gateway)
