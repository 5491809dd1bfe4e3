"""Ask a running router's daemons (JSON) — for convergence and `netemu status`.

netemu speaks vtysh's protocol on each daemon's VTY socket itself: no vtysh process to start (which
costs more CPU than the daemon's answer) for each look at each router while a lab converges.
"""

from __future__ import annotations

import json
import socket

from . import paths

COMMANDS = {
    "ospf": ("ospfd", "show ip ospf neighbor json"),
    "ospf6": ("ospf6d", "show ipv6 ospf6 neighbor json"),
    "bgp": ("bgpd", "show bgp neighbors json"),
    "routes4": ("zebra", "show ip route json"),
    "routes6": ("zebra", "show ipv6 route json"),
    "summary4": ("zebra", "show ip route summary json"),
    "summary6": ("zebra", "show ipv6 route summary json"),
}


def ask(ns: str, lab: str, node: str, daemons: tuple[str, ...] | list[str], what: list[str],
        timeout: float = 10) -> dict[str, object]:
    """The JSON answers to COMMANDS[what] for the daemons the router runs (a missing answer is left out)."""
    out: dict[str, object] = {}
    by_daemon: dict[str, list[str]] = {}
    for w in what:
        if COMMANDS[w][0] in daemons:
            by_daemon.setdefault(COMMANDS[w][0], []).append(w)
    for daemon, wanted in by_daemon.items():
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                s.connect(str(paths.vty(lab, node, daemon)))
                for w in wanted:
                    docs = _documents(command(s, COMMANDS[w][1]))
                    if docs:
                        out[w] = docs[0]
        except OSError:  # the daemon is not (or no longer) there, or too slow
            continue
    return out


def command(s: socket.socket, line: str) -> str:
    """One command on a connected VTY socket: vtysh sends it NUL-terminated, and the daemon ends its
    answer with three NUL bytes and a status byte."""
    s.sendall(line.encode() + b"\0")
    buf = bytearray()
    while not (len(buf) >= 4 and buf[-4:-1] == b"\0\0\0"):
        chunk = s.recv(1 << 16)
        if not chunk:
            raise ConnectionError("the daemon closed its VTY")
        buf += chunk
    return buf[:-4].decode(errors="replace")


def _documents(text: str) -> list[object]:
    """The JSON documents vtysh printed one after the other (an unparsable rest ends the list)."""
    dec = json.JSONDecoder()
    out, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        try:
            doc, i = dec.raw_decode(text, i)
        except ValueError:
            return out
        out.append(doc)
