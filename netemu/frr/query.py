"""Ask a running router's daemons through vtysh (JSON) — for convergence and `netemu status`."""

from __future__ import annotations

import json
import subprocess

from ..kernel import procs
from .install import locate
from .plan import vtysh_argv

COMMANDS = {
    "ospf": ("ospfd", "show ip ospf neighbor json"),
    "ospf6": ("ospf6d", "show ipv6 ospf6 neighbor json"),
    "bgp": ("bgpd", "show bgp neighbors json"),
    "routes4": ("zebra", "show ip route json"),
    "routes6": ("zebra", "show ipv6 route json"),
}


def ask(ns: str, lab: str, node: str, daemons: tuple[str, ...] | list[str], what: list[str],
        timeout: float = 10) -> dict[str, object]:
    """The JSON answers to COMMANDS[what] for the daemons the router runs (one vtysh run for all)."""
    wanted = [w for w in what if COMMANDS[w][0] in daemons]
    if not wanted:
        return {}
    argv = list(vtysh_argv(locate(), lab, node))
    for w in wanted:
        argv += ["-c", COMMANDS[w][1]]
    try:
        res = procs.run(ns, argv, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {}
    return dict(zip(wanted, _documents(res.stdout)))


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
