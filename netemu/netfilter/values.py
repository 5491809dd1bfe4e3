"""Readers for the small values of `nat:` and `firewall:` (prefixes, ports, addresses).

Each reader returns the parsed value or None, appending an Issue with the YAML path on failure.
"""

from __future__ import annotations

import difflib
import ipaddress
from typing import Any

from ..errors import Issue
from ..model import IPAddress, IPNetwork, Node
from ..source import PathKey, Source
from .model import PortRange


class Reader:
    """Collects issues while reading values out of one topology document."""

    def __init__(self, src: Source):
        self.src = src
        self.issues: list[Issue] = []

    def err(self, path: PathKey, message: str, hint: str | None = None) -> None:
        """Record an error at `path`."""
        self.issues.append(self.src.issue(path, message, hint))

    def warn(self, path: PathKey, message: str, hint: str | None = None) -> None:
        """Record a warning at `path`."""
        self.issues.append(self.src.issue(path, message, hint, warning=True))

    def mapping(self, path: PathKey, raw: Any, allowed: tuple[str, ...], example: str) -> dict | None:
        """`raw` as a dict with only `allowed` keys (unknown keys are reported), or None."""
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.err(path, "must be a mapping", f"e.g. {example}")
            return None
        for key in raw:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                self.err(path + (key,), "unknown key",
                         f"did you mean '{close[0]}'?" if close else f"allowed here: {', '.join(allowed)}")
        return raw

    def items(self, path: PathKey, raw: Any) -> list[tuple[PathKey, Any]]:
        """A single value or a list of values, each with its own path."""
        if raw is None:
            return []
        if isinstance(raw, list):
            return [(path + (i,), v) for i, v in enumerate(raw)]
        return [(path, raw)]

    def choice(self, path: PathKey, raw: Any, choices: tuple[str, ...], default: str) -> str:
        """One of `choices` (default when absent); reports anything else."""
        if raw is None:
            return default
        if not isinstance(raw, str) or raw not in choices:
            self.err(path, f"{raw!r} is not one of {', '.join(choices)}")
            return default
        return raw

    def flag(self, path: PathKey, raw: Any, default: bool = False) -> bool:
        """A true/false setting."""
        if raw is None:
            return default
        if not isinstance(raw, bool):
            self.err(path, f"must be true or false, got {raw!r}")
            return default
        return raw

    def address(self, path: PathKey, raw: Any) -> IPAddress | None:
        """A single IP address without prefix length."""
        try:
            return ipaddress.ip_address(str(raw).strip())
        except ValueError:
            self.err(path, f"{raw!r} is not an IP address", "write e.g. 192.0.2.80 or 2001:db8::80, without /len")
            return None

    def prefix(self, path: PathKey, raw: Any) -> IPNetwork | None:
        """A prefix such as 192.168.1.0/24; a bare address means that one address."""
        text = str(raw).strip()
        try:
            return ipaddress.ip_network(text, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(text, strict=False)
            except ValueError:
                self.err(path, f"{raw!r} is not an address prefix", "write e.g. 192.168.1.0/24")
                return None
            self.err(path, f"{text} has host bits set", f"did you mean {loose}?")
            return None

    def prefixes(self, path: PathKey, raw: Any) -> tuple[IPNetwork, ...]:
        """One prefix or a list of them; empty when absent (meaning any)."""
        out = [self.prefix(p, v) for p, v in self.items(path, raw)]
        return tuple(p for p in out if p is not None)

    def port(self, path: PathKey, raw: Any) -> int | None:
        """A port number 1..65535."""
        if isinstance(raw, str) and raw.strip().isdigit():
            raw = int(raw.strip())
        if isinstance(raw, bool) or not isinstance(raw, int):
            self.err(path, f"port {raw!r} must be a whole number 1..65535")
            return None
        if not 1 <= raw <= 65535:
            self.err(path, f"port {raw} is out of range", "ports are 1..65535")
            return None
        return raw

    def port_ranges(self, path: PathKey, raw: Any) -> tuple[PortRange, ...] | None:
        """Ports: 80, "8000-8080", or a list of those; None when any is invalid."""
        out: list[PortRange] = []
        ok = True
        for p, v in self.items(path, raw):
            if isinstance(v, str) and "-" in v:
                a, _, b = v.partition("-")
                lo, hi = self.port(p, a.strip()), self.port(p, b.strip())
                if lo is None or hi is None:
                    ok = False
                elif lo > hi:
                    self.err(p, f"port range {v!r} runs backwards", f"write {hi}-{lo}")
                    ok = False
                else:
                    out.append((lo, hi))
            else:
                single = self.port(p, v)
                if single is None:
                    ok = False
                else:
                    out.append((single, single))
        return tuple(out) if ok else None

    def address_port(self, path: PathKey, raw: Any, need_port: bool) -> tuple[IPAddress | None, int | None] | None:
        """`ADDR:PORT`, `[V6]:PORT`, `ADDR` (port None) or a bare port (address None)."""
        if isinstance(raw, int) and not isinstance(raw, bool):
            port = self.port(path, raw)
            return None if port is None else (None, port)
        if not isinstance(raw, str):
            self.err(path, f"{raw!r} must be 'ADDRESS:PORT'", "e.g. 192.0.2.1:8080 or [2001:db8::1]:8080")
            return None
        text = raw.strip()
        if text.startswith("["):
            addr_text, _, rest = text[1:].partition("]")
            port_text = rest[1:] if rest.startswith(":") else None
        elif text.count(":") == 1:
            addr_text, _, port_text = text.partition(":")
        else:
            addr_text, port_text = text, None
        address = self.address(path, addr_text) if addr_text else None
        if addr_text and address is None:
            return None
        port = None
        if port_text is not None:
            port = self.port(path, port_text)
            if port is None:
                return None
        elif need_port:
            self.err(path, f"{raw!r} needs a port", "write ADDRESS:PORT, e.g. 192.0.2.1:8080")
            return None
        return address, port

    def interface(self, path: PathKey, node: Node, name: Any) -> str | None:
        """The name of an interface that exists on `node`."""
        if name is None:
            return None
        if node.interface(str(name)) is None:
            have = ", ".join(i.name for i in node.interfaces) or "none"
            self.err(path, f"unknown interface {name!r} on node {node.name!r}", f"it has: {have}")
            return None
        return str(name)
