"""One attempt of each kind of probe, run inside a node with real tools (fping, traceroute, dig, ip).

Every probe returns what it saw; none decides pass or fail (the caller compares with what is
expected). A tool that prints nothing never counts as an answer.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import socket
from dataclasses import dataclass

from ..errors import MissingFeatureError
from ..kernel import netns, procs
from ..model import IPAddress, IPNetwork

TOOLS = {"fping": "fping", "traceroute": "traceroute", "dig": "dnsutils"}
_ALIVE = re.compile(r"^(\S+) is alive")
_ICMP = re.compile(r"^(ICMP .+?) from (\S+) for ICMP Echo sent to (\S+)")
_SEND = re.compile(r"^(\S+): error while sending ping: (.+)$")


def need(*tools: str) -> None:
    """Raise MissingFeatureError naming the Debian package of each tool that is not installed."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pkgs = " ".join(TOOLS.get(t, t) for t in missing)
        raise MissingFeatureError(f"netemu test needs {', '.join(missing)}: apt-get install {pkgs}")


@dataclass(frozen=True)
class Echo:
    """What one ping of one address saw: an answer, or why not (an ICMP error and who sent it)."""

    address: IPAddress
    answered: bool
    note: str = ""  # e.g. "ICMP Network Unreachable from 10.0.1.1"; "" when nothing came back


def ping(ns: str, addresses: list[IPAddress], wait_ms: int = 1000) -> dict[IPAddress, Echo]:
    """One echo request to each address from inside `ns`, all in parallel (fping, both families at once)."""
    if not addresses:
        return {}
    # -r 0: no retries of fping's own (the caller retries until its deadline); -i 1: 1 ms between targets.
    argv = ["fping", "-r", "0", "-t", str(wait_ms), "-i", "1", *map(str, addresses)]
    res = procs.run(ns, argv, timeout=wait_ms / 1000 + 10 + len(addresses) * 0.01)
    alive = {ipaddress.ip_address(m.group(1)) for m in map(_ALIVE.match, res.stdout.splitlines()) if m}
    notes: dict[IPAddress, str] = {}
    for line in res.stderr.splitlines():
        if m := _ICMP.match(line):
            notes[ipaddress.ip_address(m.group(3))] = f"{m.group(1)} from {m.group(2)}"
        elif m := _SEND.match(line):
            notes[ipaddress.ip_address(m.group(1))] = f"cannot send: {m.group(2)}"
    return {a: Echo(a, a in alive, "" if a in alive else notes.get(a, "")) for a in addresses}


def tcp_connect(ns: str, address: IPAddress, port: int, timeout: float = 2.0) -> tuple[bool, str]:
    """Open a TCP connection from inside `ns`: (connected, what happened)."""
    fam = socket.AF_INET if address.version == 4 else socket.AF_INET6
    # A socket belongs to the namespace it was created in, so only its creation needs the excursion.
    with netns.entered(ns):
        s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect((str(address), port))
        return True, "connected"
    except socket.timeout:
        return False, f"no answer within {timeout:g} s"
    except OSError as e:
        return False, e.strerror or str(e)
    finally:
        s.close()


def resolve(ns: str, name: str, qtype: str) -> tuple[list[IPAddress], str]:
    """Ask the node's resolver (its resolv.conf) for `name`: (addresses in the answer, what happened)."""
    res = procs.run(ns, ["dig", "+time=2", "+tries=1", "+noall", "+answer", "+comments", name, qtype], timeout=15)
    found = []
    for line in res.stdout.splitlines():
        parts = line.split()
        if not line.startswith(";") and len(parts) >= 5 and parts[3] == qtype:
            found.append(ipaddress.ip_address(parts[4]))
    status = re.search(r"status: (\w+)", res.stdout)
    if found:
        return found, f"answer {', '.join(map(str, found))}"
    if status:
        return [], f"no {qtype} record (status {status.group(1)})"
    return [], (res.stdout.strip() or res.stderr.strip() or f"dig exited {res.returncode}").splitlines()[-1]


def routes(ns: str, prefix: IPNetwork) -> list[dict]:
    """The node's main-table routes to exactly `prefix`, as `ip -j route` prints them."""
    res = procs.run(ns, ["ip", "-j", f"-{prefix.version}", "route", "show", "exact", str(prefix)], timeout=15)
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip() or f"ip route exited {res.returncode}")
    return json.loads(res.stdout or "[]")


@dataclass(frozen=True)
class TraceHop:
    """One line of traceroute: hop number, who answered (None: nobody), and its !-flag if any."""

    ttl: int
    address: IPAddress | None
    flag: str = ""  # !N network, !H host, !X prohibited, ... unreachable


def traceroute(ns: str, address: IPAddress, max_hops: int = 16) -> tuple[list[TraceHop], str]:
    """traceroute from inside `ns` (one UDP probe per hop, all hops at once): (hops, error text)."""
    argv = ["traceroute", "-n", "-q", "1", "-w", "1", "-m", str(max_hops), str(address)]
    res = procs.run(ns, argv, timeout=max_hops + 15)
    hops = []
    for line in res.stdout.splitlines()[1:]:
        parts = line.split()
        if not parts or not parts[0].isdigit():
            continue
        addr = None
        if len(parts) > 1 and parts[1] != "*":
            try:
                addr = ipaddress.ip_address(parts[1])
            except ValueError:
                pass
        flag = next((p for p in parts[2:] if p.startswith("!")), "")
        hops.append(TraceHop(int(parts[0]), addr, flag))
    return hops, res.stderr.strip()

