"""Read `conntrack -L` output into flows and describe their address translations."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Tuple:
    """One direction of a tracked flow."""

    src: str
    dst: str
    sport: str | None = None  # ports for tcp/udp, the ICMP id for icmp
    dport: str | None = None

    def src_text(self) -> str:
        """`addr:port` (`[v6]:port`) of the source."""
        return _hp(self.src, self.sport)

    def dst_text(self) -> str:
        """`addr:port` of the destination."""
        return _hp(self.dst, self.dport)


@dataclass(frozen=True)
class Flow:
    """A tracked connection: its original and reply directions."""

    proto: str
    state: str | None
    original: Tuple
    reply: Tuple
    flags: tuple[str, ...] = ()

    @property
    def snat(self) -> str | None:
        """Where the source was translated to, if it was."""
        if (self.reply.dst, self.reply.dport) != (self.original.src, self.original.sport):
            return _hp(self.reply.dst, self.reply.dport)
        return None

    @property
    def dnat(self) -> str | None:
        """Where the destination was translated to, if it was."""
        if (self.reply.src, self.reply.sport) != (self.original.dst, self.original.dport):
            return _hp(self.reply.src, self.reply.sport)
        return None

    def text(self) -> str:
        """One readable line, e.g. `tcp 192.168.1.10:40000 -> 192.0.2.80:80 SNAT to 100.64.1.2:40000`."""
        orig = self.original
        parts = [f"{self.proto} {orig.src_text()} -> {orig.dst_text()}"]
        if self.snat:
            parts.append(f"SNAT to {self.snat}")
        if self.dnat:
            parts.append(f"DNAT to {self.dnat}")
        if self.state:
            parts.append(f"[{self.state}]")
        parts += [f"[{f}]" for f in self.flags]
        return "  ".join(parts)

    def to_json(self) -> dict:
        """JSON-ready form, with the translations spelled out."""
        return {**asdict(self), "snat": self.snat, "dnat": self.dnat, "text": self.text()}


def _hp(addr: str, port: str | None) -> str:
    if port is None:
        return addr
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def parse_line(line: str) -> Flow | None:
    """A Flow from one line of `conntrack -L` (plain or `-o extended`); None for other lines."""
    words = line.split()
    if not words or words[0].startswith("conntrack"):
        return None
    if words[0] in ("ipv4", "ipv6"):
        words = words[2:]
    if len(words) < 3:
        return None
    proto, rest = words[0], words[3:]
    state = None
    if rest and rest[0].isupper() and "=" not in rest[0] and not rest[0].startswith("["):
        state, rest = rest[0], rest[1:]
    directions: list[dict[str, str]] = []
    flags = []
    for w in rest:
        if w.startswith("[") and w.endswith("]"):
            flags.append(w[1:-1])
            continue
        key, eq, value = w.partition("=")
        if not eq:
            continue
        if key == "src":
            directions.append({})
        if not directions or key not in ("src", "dst", "sport", "dport"):
            continue  # ICMP type/code/id are left out: an ICMP flow is told apart by its addresses
        directions[-1][key] = value
    if len(directions) < 2 or not all("src" in d and "dst" in d for d in directions[:2]):
        return None
    orig, reply = (Tuple(d["src"], d["dst"], d.get("sport"), d.get("dport")) for d in directions[:2])
    return Flow(proto, state, orig, reply, tuple(flags))


def parse(text: str) -> list[Flow]:
    """Every flow in `conntrack -L` output."""
    return [f for f in (parse_line(line) for line in text.splitlines()) if f is not None]
