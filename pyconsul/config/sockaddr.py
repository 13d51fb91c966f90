"""go-sockaddr templates in address settings: `bind_addr = "{{ GetInterfaceIP \\"eth0\\" }}"`.

The evaluator is pure: `render(text, interfaces)` over a list of IfAddr. `local_interfaces()` is
the I/O shell reading this host's addresses (ioctl for IPv4, /proc for IPv6 and the default
route). Supported: GetAllInterfaces, GetDefaultInterfaces, GetPrivateInterfaces,
GetPublicInterfaces, GetInterfaceIP(s), GetPrivateIP(s), GetPublicIP(s), and the pipeline
filters include / exclude ("name", "network", "type", "flag"/"flags", "rfc"), sort, limit, offset,
unique, attr, join.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, field

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class IfAddr:
    name: str
    address: IPAddress
    network: IPNetwork
    flags: frozenset[str] = field(default_factory=frozenset)  # up, loopback, broadcast, multicast
    default: bool = False  # the interface carries the default route

    @property
    def type(self) -> str:
        return "IPv4" if self.address.version == 4 else "IPv6"


_RFC6890_PRIVATE = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fe80::/10",
)]


def is_private(a: IfAddr) -> bool:
    return not a.address.is_loopback and any(a.address in n for n in _RFC6890_PRIVATE if n.version == a.address.version)


def is_public(a: IfAddr) -> bool:
    return a.address.is_global


_EXPR = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)


def render(text: str, interfaces: list[IfAddr]) -> str:
    """Expand every {{ ... }} in `text`; TemplateError for an unknown function or bad syntax."""
    return _EXPR.sub(lambda m: _evaluate(m.group(1), interfaces), text)


def is_template(text: str) -> bool:
    return "{{" in text


def _evaluate(expr: str, interfaces: list[IfAddr]) -> str:
    value: list[IfAddr] | str | None = None
    lexer = shlex.shlex(expr, posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError as exc:
        raise TemplateError(f"unable to parse template {expr!r}: {exc}") from None
    stages: list[list[str]] = [[]]
    for tok in tokens:
        if tok == "|":
            stages.append([])
        else:
            stages[-1].append(tok)
    for words in stages:
        if not words:
            raise TemplateError(f"unable to parse template {expr!r}: empty pipeline stage")
        value = _call(words[0], words[1:], value, interfaces)
    if isinstance(value, list):
        return " ".join(str(a.address) for a in value)
    return value or ""


def _sorted(addrs: list[IfAddr]) -> list[IfAddr]:
    # go-sockaddr: larger networks (smaller prefix) first, IPv4 before IPv6.
    return sorted(addrs, key=lambda a: (a.address.version, a.network.prefixlen, int(a.address)))


def _call(name: str, args: list[str], value: list[IfAddr] | str | None, ifs: list[IfAddr]) -> list[IfAddr] | str:
    up = [a for a in ifs if "up" in a.flags or not a.flags]
    if name == "GetAllInterfaces":
        return list(ifs)
    if name == "GetDefaultInterfaces":
        return [a for a in up if a.default]
    if name == "GetPrivateInterfaces":
        return [a for a in up if a.default and is_private(a)]
    if name == "GetPublicInterfaces":
        return [a for a in up if a.default and is_public(a)]
    if name in ("GetPrivateIP", "GetPrivateIPs", "GetPublicIP", "GetPublicIPs"):
        pick = is_private if "Private" in name else is_public
        found = _sorted([a for a in up if a.default and pick(a) and a.address.version == 4])
        found = found or _sorted([a for a in up if pick(a) and a.address.version == 4])
        if name.endswith("IPs"):
            return " ".join(str(a.address) for a in found)
        return str(found[0].address) if found else ""
    if name in ("GetInterfaceIP", "GetInterfaceIPs"):
        if len(args) != 1:
            raise TemplateError(f"{name} takes one interface name")
        found = _sorted([a for a in ifs if a.name == args[0]])
        v4 = [a for a in found if a.address.version == 4]
        found = v4 or found
        if name == "GetInterfaceIPs":
            return " ".join(str(a.address) for a in found)
        return str(found[0].address) if found else ""
    if not isinstance(value, list):
        raise TemplateError(f"function {name!r} not defined or needs a list of interfaces")
    return _filter(name, args, value)


def _matches(a: IfAddr, selector: str, pattern: str) -> bool:
    if selector == "name":
        return re.search(pattern, a.name) is not None
    if selector == "network":
        return a.address in ipaddress.ip_network(pattern, strict=False)
    if selector == "type":
        return a.type.lower() == pattern.lower()
    if selector in ("flag", "flags"):
        want = pattern.lower()
        if want in ("private", "public"):
            return is_private(a) if want == "private" else is_public(a)
        return want in a.flags
    if selector == "rfc":
        return pattern == "6890" and is_private(a)
    raise TemplateError(f"unsupported selector {selector!r}")


def _filter(name: str, args: list[str], addrs: list[IfAddr]) -> list[IfAddr] | str:
    if name in ("include", "exclude"):
        if len(args) != 2:
            raise TemplateError(f"{name} takes a selector and a value")
        keep = name == "include"
        return [a for a in addrs if _matches(a, args[0], args[1]) == keep]
    if name == "sort":
        return _sorted(addrs)
    if name in ("limit", "offset"):
        n = int(args[0]) if args and args[0].lstrip("-").isdigit() else None
        if n is None:
            raise TemplateError(f"{name} takes a number")
        return addrs[:n] if name == "limit" else addrs[n:]
    if name == "unique":
        seen, out = set(), []
        for a in addrs:
            if a.address not in seen:
                seen.add(a.address)
                out.append(a)
        return out
    if name in ("attr", "join"):
        attr = args[0] if args else "address"
        sep = args[1] if name == "join" and len(args) > 1 else " "
        vals = [_attr(a, attr) for a in addrs]
        return vals[0] if name == "attr" and vals else sep.join(vals) if name == "join" else ""
    raise TemplateError(f'function "{name}" not defined')


def _attr(a: IfAddr, attr: str) -> str:
    if attr in ("address", "Address"):
        return str(a.address)
    if attr in ("name", "Name"):
        return a.name
    if attr in ("network", "Network"):
        return str(a.network)
    if attr == "type":
        return a.type
    raise TemplateError(f"unsupported attribute {attr!r}")


def local_interfaces() -> list[IfAddr]:
    """This host's interface addresses (IPv4 through ioctl, IPv6 from /proc)."""
    import fcntl
    import socket
    import struct

    default_ifs = _default_route_interfaces()
    out: list[IfAddr] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            packed = struct.pack("256s", name.encode()[:15])
            try:
                flags_raw = struct.unpack("H", fcntl.ioctl(s.fileno(), 0x8913, packed)[16:18])[0]
            except OSError:
                flags_raw = 0
            flags = {f for bit, f in ((0x1, "up"), (0x2, "broadcast"), (0x8, "loopback"), (0x1000, "multicast"))
                     if flags_raw & bit}
            try:
                addr = socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x8915, packed)[20:24])
                mask = socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x891B, packed)[20:24])
            except OSError:
                addr = mask = ""
            if addr:
                out.append(IfAddr(name, ipaddress.ip_address(addr), ipaddress.ip_network(f"{addr}/{mask}", strict=False),
                                  frozenset(flags), name in default_ifs))
            out.extend(_ipv6_of(name, frozenset(flags), name in default_ifs))
    return out


def _default_route_interfaces() -> set[str]:
    names: set[str] = set()
    try:
        with open("/proc/net/route") as f:
            for line in f.readlines()[1:]:
                parts = line.split()
                if len(parts) > 2 and parts[1] == "00000000":
                    names.add(parts[0])
    except OSError:
        pass
    return names


def _ipv6_of(name: str, flags: frozenset[str], default: bool) -> list[IfAddr]:
    out: list[IfAddr] = []
    try:
        with open("/proc/net/if_inet6") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[5] == name:
                    addr = ipaddress.ip_address(":".join(parts[0][i : i + 4] for i in range(0, 32, 4)))
                    prefix = int(parts[2], 16)
                    out.append(IfAddr(name, addr, ipaddress.ip_network(f"{addr}/{prefix}", strict=False), flags, default))
    except OSError:
        pass
    return out
