"""Link emulation of a running lab, for `netemu status` and `netemu link LAB`."""

from __future__ import annotations

import json
import os

from .model import Impairment
from .runtime import delayline_pid, on_this_machine
from .state import STATS, delay_queues, state_path


def describe(lab: str) -> dict:
    """Impaired or cut links of `lab` and the delay line's health; empty 'links' if none.

    {"backend": "fallback", "links": [{"link": 0, "admin": "up", "ends": ["a:eth0", "b:eth0"],
      "directions": [{"from": "a:eth0", "to": "b:eth0", "impairment": "20ms", ...}]}],
     "delay_line": {"needed": true, "running": true, "pid": 123, "queues": [...]}}
    """
    try:
        with open(state_path(lab)) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return {"backend": None, "links": [], "delay_line": {"needed": False, "running": False}}
    links = []
    for link in state["links"]:
        imps = [Impairment.from_json(d) for d in link["dirs"]]
        if all(i.empty for i in imps) and link.get("admin", "up") == "up":
            continue
        ends = [f"{e['node']}:{e['ifname']}" for e in link["ends"]]
        entry = {
            "link": link["index"],
            "admin": link.get("admin", "up"),
            "ends": ends,
            "directions": [
                {"from": ends[d], "to": ends[1 - d], "impairment": imps[d].describe(), **imps[d].to_json()}
                for d in (0, 1)
            ],
        }
        if state["backend"] == "fallback" and any(i.delays for i in imps):
            entry["plain_ping_added_ms"] = plain_ping_added_ms(imps)
        links.append(entry)
    here = on_this_machine(state["lab"])  # a part of a lab across machines needs a delay line only for its own queues
    needed = any(here(q["ns"]) for q in delay_queues(state))
    pid = delayline_pid(state)
    line: dict = {"needed": needed, "running": pid is not None, "pid": pid}
    try:
        with open(os.path.join(state["run_dir"], STATS)) as f:
            stats = json.load(f)
        line["queues"] = stats.get("queues", [])
        line["overruns"] = stats.get("overruns", 0)
    except (OSError, ValueError):
        pass
    return {"backend": state["backend"], "links": links, "delay_line": line}


def plain_ping_added_ms(imps: list[Impairment]) -> dict:
    """What a plain `ping` sees of a link's added delay on the fallback, from each end and from beyond it.

    The delay line holds a packet at the receiving node's PREROUTING. The kernel has already stamped the
    packet's arrival time (SO_TIMESTAMP, which plain ping reads) before that hook, so the delay of the
    reply's direction is invisible to a ping sent from the end that receives the reply. From a node
    beyond the link, both directions are held on routers on the way and count in full. `ping -U` (time
    taken in user space) and TCP timings see the full delay from everywhere.
    """
    there = [imps[d].delay_us / 1000 for d in (0, 1)]
    return {"from_end_0": there[0], "from_end_1": there[1], "from_beyond": there[0] + there[1]}


def lines(lab: str, node: str | None = None) -> list[str]:
    """describe() as text lines for `netemu status` (only the links at NODE[:IF] when given)."""
    d = describe(lab)
    if node is not None:
        def at(end: str) -> bool:
            return end == node if ":" in node else end.split(":")[0] == node

        d["links"] = [x for x in d["links"] if any(at(e) for e in x["ends"])]
    if not d["links"]:
        return []
    how = "netem" if d["backend"] == "netem" else "fallback: NFQUEUE delay line, iptables loss"
    out = [f"link emulation ({how}):"]
    for link in d["links"]:
        state = "" if link["admin"] == "up" else "  [DOWN]"
        out.append(f"  links[{link['link']}] {link['ends'][0]} -- {link['ends'][1]}{state}")
        for x in link["directions"]:
            out.append(f"    {x['from']} -> {x['to']}: {x['impairment']}")
        seen = link.get("plain_ping_added_ms")
        if seen:
            out.append(f"    held at the receiving end (fallback): plain ping from {link['ends'][0]} shows "
                       f"+{seen['from_end_0']:g} ms, from {link['ends'][1]} +{seen['from_end_1']:g} ms, from "
                       f"beyond the link +{seen['from_beyond']:g} ms; ping -U and TCP see "
                       f"+{seen['from_beyond']:g} ms from everywhere")
    dl = d["delay_line"]
    if dl["needed"]:
        if dl["running"]:
            held = sum(q.get("held", 0) for q in dl.get("queues", []))
            late = sum(q.get("late_releases", 0) for q in dl.get("queues", []))
            out.append(f"  delay line: running (pid {dl['pid']}), {held} packet(s) held, {late} late release(s)")
        else:
            out.append("  delay line: NOT RUNNING: delayed links pass undelayed "
                       "(restart: netemu link LAB NODE:IF set)")
    return out
