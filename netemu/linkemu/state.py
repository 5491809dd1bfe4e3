"""The lab's link-emulation state file: every link's ends, hooks and current impairments.

Written by `up` (a WriteFile op, so `down` removes it), rewritten by runtime changes, read by
the delay-line process, `netemu link`, `status` and `check`. It is self-contained: runtime
commands never need the topology file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from ..errors import LabError, NotFoundError, UsageError
from ..labdir import LabDir
from ..model import Interface, Topology
from .model import Impairment, LinkEmu

STATE_NAME = "linkemu.json"
READY = "linkemu-delay.ready"  # the delay line writes "PID GENERATION" here after each (re)load
STATS = "linkemu-delay.stats.json"  # and its counters here, every second
QUEUE_BASE = 4200  # NFQUEUE numbers: QUEUE_BASE + 2*link + direction, in the receiving namespace
CHAIN = "NETEMU-LINKEMU"
VERSION = 1


def run_dir(lab: str) -> str:
    """The lab's runtime directory (the core's, removed by `down`)."""
    return str(LabDir(lab).path)


def state_path(lab: str) -> str:
    """Where the lab's link-emulation state lives."""
    return os.path.join(run_dir(lab), STATE_NAME)


def _end(topo: Topology, iface: Interface) -> dict:
    node = topo.node(iface.node)
    return {
        "node": iface.node,
        "ifname": iface.name,
        "ns": topo.namespace(iface.node),
        "kind": node.kind,
        "mac": iface.mac,
        "addresses": [str(a) for a in iface.addresses],
    }


def build(topo: Topology, model: LinkEmu, backend: str, timer_us: int | None = None) -> dict:
    """The initial state of a lab: every link (impaired or not, so any can be changed later)."""
    links = []
    for link in topo.links:
        li = model.of(link.index)
        dirs = [li.ab, li.ba] if li else [Impairment(), Impairment()]
        links.append({
            "index": link.index,
            "mtu": link.mtu,
            "admin": "up",
            "ends": [_end(topo, link.a), _end(topo, link.b)],
            "dirs": [d.to_json() for d in dirs],
        })
    return {
        "version": VERSION,
        "lab": topo.name,
        "run_dir": run_dir(topo.name),
        "backend": backend,
        "timer_us": timer_us,  # what rate limits' bursts are sized for (None: decided on first use)
        "generation": 0,
        "ipv6": any(a.version == 6 for n in topo.nodes for a in n.addresses()),
        "links": links,
    }


@dataclass(frozen=True)
class Direction:
    """One direction of one link, resolved: who sends, where its packets are hooked."""

    link: int
    dir: int  # 0: sent by ends[0]; 1: sent by ends[1]
    sender: dict
    receiver: dict
    imp: Impairment
    admin: str

    @property
    def label(self) -> str:
        """'links[0]:h1:eth0->r1:eth0' (no spaces: it is an iptables comment)."""
        return (f"links[{self.link}]:{self.sender['node']}:{self.sender['ifname']}->"
                f"{self.receiver['node']}:{self.receiver['ifname']}")

    @property
    def queue(self) -> int:
        """The NFQUEUE number of this direction, in the receiver's namespace."""
        return QUEUE_BASE + 2 * self.link + self.dir

    @property
    def hook_ns(self) -> str:
        """The namespace whose PREROUTING holds this direction's loss and delay rules (fallback)."""
        return self.receiver["ns"]

    @property
    def hook_match(self) -> list[str]:
        """iptables match for packets arriving over this direction at its receiver.

        A routed node matches its input interface. A switch receives the frame on a bridge port:
        br_netfilter passes bridged IP packets through the switch namespace's PREROUTING, where
        physdev identifies the port; this models the link itself rather than any single far host.
        """
        if self.receiver["kind"] == "switch":
            return ["-m", "physdev", "--physdev-in", self.receiver["ifname"]]
        return ["-i", self.receiver["ifname"]]


def directions(state: dict) -> list[Direction]:
    """Every direction of every link in the state."""
    out = []
    for link in state["links"]:
        for d in (0, 1):
            out.append(Direction(link["index"], d, link["ends"][d], link["ends"][1 - d],
                                 Impairment.from_json(link["dirs"][d]), link.get("admin", "up")))
    return out


def delay_queues(state: dict) -> list[dict[str, Any]]:
    """What the delay-line process must serve: one entry per delayed direction (fallback only)."""
    if state.get("backend") != "fallback":
        return []
    return [
        {"ns": d.hook_ns, "queue": d.queue, "delay_us": d.imp.delay_us, "jitter_us": d.imp.jitter_us,
         "label": d.label}
        for d in directions(state) if d.imp.delays
    ]


def load(lab: str) -> dict:
    """Read a running lab's state; a lab that was built without impairments gets a fresh one."""
    path = state_path(lab)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        pass
    except ValueError as e:
        raise LabError(f"{path} is corrupt: {e}") from None
    from ..lab import Lab  # the saved topology of a lab that is up (LabError if it is not)

    return build(Lab.attach(lab).topology, LinkEmu(), "auto")


def write_atomic(path: str, text: str) -> None:
    """Replace the file at `path` with `text`, so no reader ever sees it half written."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def save(state: dict) -> None:
    """Write the state atomically."""
    write_atomic(state_path(state["lab"]), dumps(state))


def dumps(state: dict) -> str:
    """The state as the file's text."""
    return json.dumps(state, indent=1)


def find_end(state: dict, node: str, ifname: str | None) -> tuple[dict, int]:
    """The link and end index of NODE[:IF] (LabError with the choices if absent or ambiguous)."""
    hits = [(link, i) for link in state["links"] for i, end in enumerate(link["ends"])
            if end["node"] == node and (ifname is None or end["ifname"] == ifname)]
    if len(hits) == 1:
        return hits[0]
    here = sorted(f"{e['node']}:{e['ifname']}" for link in state["links"] for e in link["ends"] if e["node"] == node)
    if not hits:
        what = f"{node}:{ifname}" if ifname else node
        raise NotFoundError(f"lab {state['lab']!r} has no interface {what}"
                       + (f"; {node} has {', '.join(here)}" if here else ""))
    raise UsageError(f"{node} has several interfaces ({', '.join(here)}): name one as NODE:IF")
