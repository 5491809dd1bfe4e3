"""Change a running lab's links: impairments (`netemu link … set`) and faults (`… down|up`)."""

from __future__ import annotations

import json
import os
import signal
import time

from .. import journal
from ..errors import KernelError, MissingFeatureError, UsageError
from ..kernel import netns, procs
from ..labdir import LabDir, locked
from . import caps as capsmod
from . import render, units, validate
from .needs import problems
from .process import PROCESS, delayline_argv
from .model import ATTRS, FIELDS, Impairment, LinkEmu, LinkImpairment
from .state import CHAIN, READY, delay_queues, directions, find_end, load, save, state_path

DIRECTIONS = ("both", "out", "in")
_NONE = ("none", "off")
_PLAIN = Impairment()  # a cleared field takes its plain-wire value


def parse_changes(values: dict[str, str | None]) -> dict[str, object]:
    """CLI values -> Impairment field changes; 'none'/'off' (or 0) clears a field. UsageError if invalid."""
    out: dict[str, object] = {}
    errors = []
    for key, raw in values.items():
        if raw is None:
            continue
        if key not in FIELDS:
            raise UsageError(f"unknown impairment {key!r} (use {', '.join(FIELDS)})")
        attr = ATTRS[key]
        text = str(raw).strip()
        if text.lower() in _NONE or (key == "bandwidth" and text == "0"):
            out[attr] = getattr(_PLAIN, attr)
            continue
        value, problem, hint = units.PARSERS[key](raw)
        if problem:
            errors.append(f"--{key}: {problem}" + (f" (hint: {hint})" if hint else ""))
            continue
        out[attr] = value
    if errors:
        raise UsageError("\n".join(errors))
    return out


def _split_endpoint(endpoint: str) -> tuple[str, str | None]:
    node, _, ifname = endpoint.partition(":")
    return node, ifname or None


def set_impairment(lab: str, endpoint: str, changes: dict[str, object], direction: str = "both",
                   clear: bool = False) -> list[str]:
    """Change the impairments of the link at NODE[:IF]; returns one line per changed direction.

    `direction`: 'out' is traffic sent by NODE:IF, 'in' traffic it receives, 'both' both.
    With `clear`, unspecified fields reset to none.
    """
    if direction not in DIRECTIONS:
        raise UsageError(f"direction must be one of {', '.join(DIRECTIONS)}")
    with locked(lab):
        state = load(lab)
        link, end = find_end(state, *_split_endpoint(endpoint))
        dirs = {"both": (0, 1), "out": (end,), "in": (1 - end,)}[direction]
        new_dirs = list(link["dirs"])
        out_lines: list[str] = []
        warnings: list[str] = []
        for d in dirs:
            old = Impairment() if clear else Impairment.from_json(link["dirs"][d])
            imp = old.merged(**changes)
            found = validate.problems(imp, link["mtu"], key=validate.flag)
            bad = [p for p in found if not p.warning]
            if bad:
                raise UsageError("; ".join(_cli_problem(p) for p in bad))
            warnings += [f"warning: {_cli_problem(p)}" for p in found if p.warning]
            new_dirs[d] = imp.to_json()
            sender, receiver = link["ends"][d], link["ends"][1 - d]
            out_lines.append(f"links[{link['index']}] {sender['node']}:{sender['ifname']} -> "
                             f"{receiver['node']}:{receiver['ifname']}: {imp.describe()}")
        new = json.loads(json.dumps(state))
        new_link = next(x for x in new["links"] if x["index"] == link["index"])
        new_link["dirs"] = new_dirs
        _resolve_backend(new, new_link)
        new["generation"] = state.get("generation", 0) + 1
        _apply(state, new, link["index"])
    return list(dict.fromkeys(warnings)) + out_lines


def _cli_problem(p: validate.Problem) -> str:
    """A problem in command-line terms (its hint already names flags)."""
    return f"{validate.flag(p.field)}: {p.message}" + (f" (hint: {p.hint})" if p.hint else "")


def _resolve_backend(state: dict, link: dict) -> None:
    """Pick the backend on first use and refuse what this machine cannot do."""
    caps = capsmod.probe()
    if state["backend"] == "auto":
        state["backend"] = capsmod.backend(caps)
    if not state.get("timer_us"):
        state["timer_us"] = capsmod.timer_us(caps)
    imps = [Impairment.from_json(d) for d in link["dirs"]]
    model = LinkEmu((LinkImpairment(link["index"], imps[0], imps[1]),))
    found = problems(model, caps)
    for d, imp in enumerate(imps):
        receiver = link["ends"][1 - d]
        if state["backend"] == "fallback" and receiver["kind"] == "switch" and (imp.delays or imp.loss_pct) \
                and not caps.bridge_hook:
            found.append(f"delay or loss into switch {receiver['node']} needs br_netfilter and physdev: "
                         f"{caps.why('br_netfilter', 'iptables_physdev')}")
    if found:
        raise MissingFeatureError("; ".join(found))


def on_this_machine(lab: str):
    """Whether a namespace of `lab` is this machine's to change: every one on one machine; on a machine
    holding a part of a lab across machines (--hosts), only its own nodes' (the other end of a link
    between machines is changed by that end's machine)."""
    if LabDir(lab).read_meta().get("machine") is None:
        return lambda ns: True
    return netns.exists


def _apply(old: dict, new: dict, index: int) -> None:
    """Move the kernel from `old` to `new` for link `index`, then save `new`."""
    link = next(x for x in new["links"] if x["index"] == index)
    here = on_this_machine(new["lab"])
    ds = [d for d in directions(new) if d.link == index]
    os.makedirs(new["run_dir"], exist_ok=True)
    save(new)
    for d in ds:
        if not here(d.sender["ns"]):
            continue
        lines = render.tc_lines(d, new["backend"], link["mtu"], runtime=True, timer_us=render.state_timer_us(new))
        for line in lines:
            res = procs.run(d.sender["ns"], ["tc", *line.split()])
            if res.returncode != 0 and not line.startswith("qdisc del"):
                raise KernelError(f"tc {line} in {d.sender['ns']}", res.stderr.strip())
    if new["backend"] == "fallback":
        for ns in filter(here, render.needs_bridge_hook(new)):
            _run(ns, ["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1"])
            if new["ipv6"]:
                _run(ns, ["sysctl", "-qw", "net.bridge.bridge-nf-call-ip6tables=1"])
        sync_delayline(new, here=here)
        for ns in filter(here, {d.hook_ns for d in ds}):
            _restore_chain(new, ns)


def _run(ns: str, argv: list[str], stdin: str | None = None) -> None:
    res = procs.run(ns, argv, stdin)
    if res.returncode != 0:
        raise KernelError(f"{' '.join(argv)} in {ns}", (res.stderr or res.stdout).strip()[:500])


def _restore_chain(state: dict, ns: str) -> None:
    """Rewrite the lab's chain in `ns` (both families) and make sure PREROUTING jumps to it."""
    text = render.restore_text(state, ns, with_jump=False) or f"*raw\n:{CHAIN} - [0:0]\nCOMMIT\n"
    tools = [("iptables", "iptables-restore")] + ([("ip6tables", "ip6tables-restore")] if state["ipv6"] else [])
    jump = ["PREROUTING", "-m", "comment", "--comment", "netemu-linkemu", "-j", CHAIN]
    for tool, restore in tools:
        _run(ns, [restore, "--noflush"], text)
        if procs.run(ns, [tool, "-w", "5", "-t", "raw", "-C", *jump]).returncode != 0:
            _run(ns, [tool, "-w", "5", "-t", "raw", "-A", *jump])


# --- the delay-line process -------------------------------------------------------------
def _ready(state: dict) -> tuple[int, int] | None:
    """(pid, generation) the delay line wrote when it last (re)loaded, if it ever did."""
    try:
        with open(os.path.join(state["run_dir"], READY)) as f:
            pid, generation = (int(x) for x in f.read().split()[:2])
    except (OSError, ValueError):
        return None
    return pid, generation


def _is_delayline(pid: int) -> bool:
    """Whether `pid` runs and is a delay line (not a process that reused the pid; a zombie has no cmdline)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"delayline" in f.read()
    except OSError:
        return False


def delayline_pid(state: dict) -> int | None:
    """The pid of the lab's delay line if it is running."""
    ready = _ready(state)
    return ready[0] if ready and _is_delayline(ready[0]) else None


def sync_delayline(state: dict, timeout: float = 10.0, here=None) -> int | None:
    """Make the delay line serve exactly the state's queues: reload, start or stop it. Returns its pid.

    `here(ns)`: whether a queue's namespace is this machine's (see on_this_machine); by default all are."""
    queues = [q for q in delay_queues(state) if here is None or here(q["ns"])]
    pid = delayline_pid(state)
    if not queues:
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
        return None
    if pid is not None:
        os.kill(pid, signal.SIGHUP)
    else:
        lab = LabDir(state["lab"])
        lab.logs.mkdir(parents=True, exist_ok=True)
        ns = queues[0]["ns"]
        log = lab.logs / f"{PROCESS}.log"
        started = procs.start_capped(ns, delayline_argv(state_path(state["lab"])), str(log))
        # journaled like at `up`: `down` kills it by PID, start time and namespace, `status` shows it
        if started.pump is not None:
            journal.append(lab.journal, "proc", name=f"{PROCESS} (log)", pid=started.pump.pid,
                           start=procs.start_time(started.pump.pid), of=PROCESS)
        journal.append(lab.journal, "proc", name=PROCESS, pid=started.proc.pid,
                       start=procs.start_time(started.proc.pid), ns=ns, log=str(log))
    want = state.get("generation", 0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = _ready(state)
        if ready and ready[1] == want and _is_delayline(ready[0]):
            return ready[0]
        time.sleep(0.01)
    raise KernelError("delay line reload", f"not ready after {timeout:.0f} s; see {LabDir(state['lab']).logs}")


# --- faults: link down / up -----------------------------------------------------------------
def _json(ns: str, argv: list[str]) -> list[dict]:
    res = procs.run(ns, argv)
    if res.returncode != 0:
        raise KernelError(f"{' '.join(argv)} in {ns}", res.stderr.strip())
    return json.loads(res.stdout or "[]")


def _snapshot(end: dict) -> dict:
    """Routes and permanent neighbours through an interface: the kernel deletes them when it goes down."""
    ns, dev = end["ns"], end["ifname"]
    routes = []
    for fam in ("-4", "-6"):
        for r in _json(ns, ["ip", "-j", fam, "route", "show", "table", "all", "dev", dev]):
            if r.get("protocol") == "kernel" or r.get("table") == "local" or r.get("type", "unicast") != "unicast":
                continue
            routes.append({"family": fam, **r})
    neigh = [n for n in _json(ns, ["ip", "-j", "neigh", "show", "dev", dev, "nud", "permanent"])]
    return {"routes": routes, "neighbours": neigh}


def _restore(end: dict, saved: dict) -> None:
    ns, dev = end["ns"], end["ifname"]
    for n in saved.get("neighbours", []):
        if n.get("lladdr"):
            _run(ns, ["ip", "neigh", "replace", n["dst"], "lladdr", n["lladdr"], "dev", dev, "nud", "permanent"])
    for r in saved.get("routes", []):
        argv = ["ip", r["family"], "route", "replace", r["dst"]]
        if r.get("gateway"):
            argv += ["via", r["gateway"]]
        argv += ["dev", dev]
        for key, word in (("metric", "metric"), ("table", "table"), ("protocol", "proto"), ("prefsrc", "src")):
            if r.get(key) not in (None, ""):
                argv += [word, str(r[key])]
        if r.get("scope") and r["scope"] != "global":
            argv += ["scope", r["scope"]]
        _run(ns, argv)


def _wait_carrier(ends: list[dict], timeout: float) -> None:
    """Wait (bounded) until both veth ends report carrier, so traffic flows when `up` returns."""
    # A link between machines (--hosts): the far end is another machine's, whose own carrier is its business.
    ends = [e for e in ends if netns.exists(e["ns"])]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [_json(e["ns"], ["ip", "-j", "link", "show", "dev", e["ifname"]]) for e in ends]
        if all(s and "NO-CARRIER" not in s[0].get("flags", []) and "UP" in s[0].get("flags", []) for s in states):
            return
        time.sleep(0.02)


def set_admin(lab: str, endpoint: str, up: bool) -> str:
    """Cut (`up=False`) or restore the link at NODE[:IF], like pulling and replugging its cable.

    One end is set down, so the other sees its carrier go. A switch end is preferred (it has no
    routes); otherwise the named end's static routes and permanent neighbours, which the kernel
    deletes when an interface goes down, are saved first and put back by `up`. On a machine holding
    a part of a lab across machines, a link whose other end is another machine's (VXLAN: its far end
    would keep its carrier) has this machine's end set down; that machine sets down its own.
    """
    with locked(lab):
        state = load(lab)
        link, end = find_end(state, *_split_endpoint(endpoint))
        ends = link["ends"]
        here = on_this_machine(lab)
        local = [i for i, e in enumerate(ends) if here(e["ns"])]
        if len(local) == 1:  # a link between machines: only this machine's end is ours to cut
            end = local[0]
            ends = [e if i == end else {**e, "kind": "remote"} for i, e in enumerate(ends)]
        name = f"links[{link['index']}] {ends[0]['node']}:{ends[0]['ifname']} -- {ends[1]['node']}:{ends[1]['ifname']}"
        if not up:
            if link.get("admin", "up") == "down":
                return f"{name} is already down"
            which = next((i for i, e in enumerate(ends) if e["kind"] == "switch"), end)
            target = ends[which]
            link["saved"] = {} if target["kind"] == "switch" else _snapshot(target)
            if target["kind"] != "switch" and state.get("ipv6"):
                procs.run(target["ns"], ["sysctl", "-qw", f"net.ipv6.conf.{target['ifname']}.keep_addr_on_down=1"])
            link["admin"], link["down_end"] = "down", which
            os.makedirs(state["run_dir"], exist_ok=True)
            save(state)
            _run(target["ns"], ["ip", "link", "set", target["ifname"], "down"])
            return f"{name} is down ({target['node']}:{target['ifname']} set down)"
        if link.get("admin", "up") == "up":
            return f"{name} is already up"
        target = ends[link.get("down_end", end)]
        _run(target["ns"], ["ip", "link", "set", target["ifname"], "up"])
        _wait_carrier(ends, timeout=2.0)
        _restore(target, link.get("saved", {}))
        link["admin"] = "up"
        link.pop("saved", None)
        link.pop("down_end", None)
        save(state)
        return f"{name} is up"
