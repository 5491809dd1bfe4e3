"""The coordinator: checks every machine, brings each part up in parallel, and takes them all down.

It keeps one record per lab, /run/netemu/.multi/LAB.json, written before any machine is asked to
build anything, so `down` knows every machine even after the coordinator was killed mid-`up`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError, UsageError
from ..model import Topology
from ..plan import build
from . import mux, remote
from .inventory import UNDERLAY_MTU, Inventory, Machine
from .mux import RECORDS
from .part import version
from .placement import Placement, place
from .split import Split, split, vxlan_port

BUSY_RETRY = 60.0  # a machine still busy with its part (an `up` being rolled back) is asked again this long


class MultiError(LabError):
    """Machines cannot build or remove their parts (every problem listed)."""


@dataclass(frozen=True)
class Layout:
    """Placement and per-machine plans of a lab on an inventory."""

    topo: Topology
    machines: tuple[Machine, ...]  # the machines that get nodes, inventory order
    placement: Placement
    split: Split
    port: int
    underlay_mtu: int

    def addresses(self) -> dict[str, str]:
        return {m.name: m.address for m in self.machines}


def _pins(topo: Topology) -> dict[str, str]:
    model = topo.feature("multi")
    return dict(model.pins) if model else {}


def layout(topo: Topology, inv: Inventory, underlay_mtu: int | None = None) -> Layout:
    """Place the lab on the inventory's machines and cut its plan (pure: no machine is contacted)."""
    placement = place(topo, inv.names, _pins(topo))
    used = [m for m in inv.machines if placement.nodes_on(m.name)]
    missing = [m.name for m in used if m.address is None]
    if missing:
        raise UsageError(f"{inv.path}: {', '.join(missing)}: the underlay address is unknown; give an IP address "
                         "as ansible_host, or netemu_underlay: ADDRESS")
    mtu = underlay_mtu or min((m.underlay_mtu or UNDERLAY_MTU for m in used), default=UNDERLAY_MTU)
    port = vxlan_port(topo.name)
    parts = split(topo, build(topo), placement, {m.name: m.address for m in used}, mtu, port)
    return Layout(topo, tuple(used), placement, parts, port, mtu)


def mtu_warnings(lay: Layout) -> list[str]:
    """One line per link whose MTU VXLAN cannot carry (it is lowered)."""
    out = []
    for index, written, used in lay.split.lowered:
        link = lay.topo.links[index]
        out.append(f"links[{index}] ({link.a.node} - {link.b.node}): mtu {written} is more than VXLAN between "
                   f"machines carries (underlay {lay.underlay_mtu} - {lay.underlay_mtu - used}): it gets {used}")
    return out


# --- the record -----------------------------------------------------------------------------
def _record_path(lab: str) -> Path:
    return RECORDS / f"{lab}.json"


def record(lab: str) -> dict | None:
    """The coordinator's record of a multi-machine lab, or None."""
    try:
        return json.loads(_record_path(lab).read_text())
    except (OSError, ValueError):
        return None


def _write_record(lab: str, data: dict) -> None:
    RECORDS.mkdir(parents=True, exist_ok=True)
    tmp = _record_path(lab).with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, _record_path(lab))


def _drop_record(lab: str) -> None:
    from ..labdir import tidy

    _record_path(lab).unlink(missing_ok=True)
    try:
        RECORDS.rmdir()
    except OSError:
        return  # another lab across machines is still up from here
    tidy()  # no lab left here either: the caches `plan` made go, and /run/netemu with them


def machines_of(rec: dict) -> list[Machine]:
    """The machines of a record, each reached through the lab's shared ssh connections when they exist."""
    control = mux.usable(rec["lab"])
    return [Machine(**{**m, "common_args": tuple(m["common_args"]), "control": control}) for m in rec["machines"]]


def _machine_json(m: Machine) -> dict:
    return {k: v for k, v in dataclasses.asdict(m).items() if k != "control"}


# --- up ---------------------------------------------------------------------------------------
def check(lay: Layout) -> dict[str, int]:
    """Ask every machine at once; raise MultiError listing every problem; return each underlay MTU."""
    addresses = lay.addresses()

    def ask(m: Machine) -> remote.Reply:
        req = {"lab": lay.topo.name, "port": lay.port, "address": m.address,
               "peers": [a for n, a in addresses.items() if n != m.name],
               "namespaces": [lay.topo.namespace(n) for n in lay.placement.nodes_on(m.name)]}
        return remote.run(m, ["part", "check"], json.dumps(req), timeout=60)

    replies = remote.each(lay.machines, ask)
    problems, mtus = [], {}
    mine = version()
    for name, r in replies.items():
        if r.unreachable:
            problems.append(f"{name}: unreachable over ssh: {r.why()}")
            continue
        facts = r.json()
        if r.code != 0 or not facts:
            problems.append(f"{name}: netemu did not answer (exit status {r.code}): {r.why()}")
            continue
        if facts.get("version") != mine:
            problems.append(f"{name}: netemu {facts.get('version')} there, {mine} here: install the same version")
        problems += [f"{name}: {p}" for p in facts.get("problems", [])]
        mtus[name] = min(facts.get("mtu", {}).values(), default=UNDERLAY_MTU)
    if problems:
        raise MultiError("the machines cannot build this lab (nothing was created):\n  " + "\n  ".join(problems))
    return mtus


def up(topo: Topology, inv: Inventory, topology_text: str, progress=None) -> tuple[Layout, dict[str, dict]]:
    """Check every machine, then build every part in parallel; on any failure remove every part."""
    say = progress or (lambda msg: None)
    if record(topo.name):
        raise LabError(f"lab {topo.name!r} is already up across machines; run 'netemu down {topo.name}' first")
    lay = layout(topo, inv)
    say(f"checking {len(lay.machines)} machines: {', '.join(m.name for m in lay.machines)}")
    mtus = check(lay)
    lay = layout(topo, inv, min(mtus.values()))
    _write_record(topo.name, {"lab": topo.name, "inventory": os.path.abspath(inv.path),
                              "machines": [_machine_json(m) for m in lay.machines],
                              "placement": dict(lay.placement.machine_of), "port": lay.port,
                              "underlay_mtu": lay.underlay_mtu, "created": time.time(), "pid": os.getpid(),
                              "topology": topology_text, "source": topo.source})
    control = str(mux.make(topo.name))  # after the record: `down` finds and removes it
    machines = [dataclasses.replace(m, control=control) for m in lay.machines]
    me = socket.gethostname()

    def build_part(m: Machine) -> remote.Reply:
        req = {"machine": m.name, "port": lay.port, "topology": topology_text, "source": topo.source,
               "coordinator": me, "ops": [op.to_json() for op in lay.split.plan(m.name).ops]}
        return remote.run(m, ["part", "up"], json.dumps(req))

    say(f"building {len(lay.machines)} parts in parallel")
    try:
        replies = remote.each(machines, build_part)
    except BaseException:
        down(topo.name)
        raise
    failed = {n: r for n, r in replies.items() if r.code != 0}
    if failed:
        try:
            down(topo.name)
            cleaned = "every machine's part was removed"
        except MultiError as e:
            cleaned = f"and removing the parts failed too:\n{e}"
        raise MultiError(f"building the lab failed; {cleaned}:\n  "
                         + "\n  ".join(f"{n}: {r.why()}" for n, r in failed.items()))
    return lay, {n: r.json() for n, r in replies.items()}


# --- down -------------------------------------------------------------------------------------
def down(lab: str, inv: Inventory | None = None, wait: float = 0.0) -> list[str]:
    """Remove every machine's part; returns one line per machine. Unreachable machines stay listed
    in the record (and MultiError says so) until a later `down` reaches them."""
    from .agent import close_lab

    close_lab(lab)  # this process's agents of the lab end before their parts do
    rec = record(lab)
    if rec is None and inv is None:
        raise LabError(f"no multi-machine lab {lab!r} is known here; give --hosts INVENTORY")
    machines = machines_of(rec) if rec else list(inv.machines)
    deadline = time.monotonic() + max(wait, 0.0)

    def remove(m: Machine) -> remote.Reply:
        busy_until = time.monotonic() + BUSY_RETRY
        while True:
            r = remote.run(m, ["down", lab], timeout=120)
            busy = r.code != 0 and "busy" in r.err
            if r.code == 0 or (not busy and not r.unreachable):
                return r
            if time.monotonic() > max(deadline, busy_until if busy else 0):
                return r
            time.sleep(1.0)

    if rec is not None:  # first every machine, so no connection between machines outlives its lab
        remote.each(machines, lambda m: remote.run(m, ["part", "quiesce", lab], timeout=30))
    replies = remote.each(machines, remove)
    lines, pending = [], []
    for m in machines:
        r = replies[m.name]
        if r.code == 0:
            lines.append(f"{m.name}: {r.out.strip().splitlines()[-1] if r.out.strip() else 'done'}")
        else:
            pending.append(m)
            lines.append(f"{m.name}: NOT removed ({'unreachable' if r.unreachable else 'failed'}: {r.why()})")
    if pending:
        data = rec or {"lab": lab, "placement": {}}
        data["machines"] = [_machine_json(m) for m in pending]
        _write_record(lab, data)
        mux.close(lab, [m for m in machines if m not in pending], remove=False)
        raise MultiError("\n".join(lines) + f"\nthe parts on {', '.join(m.name for m in pending)} remain; run "
                         f"'netemu down {lab}' again when they are reachable (this machine remembers them)")
    mux.close(lab, machines)
    _drop_record(lab)
    return lines


# --- status and exec --------------------------------------------------------------------------
def status(lab: str, node: str | None = None) -> dict:
    """The whole lab's status (or one node's), asked of every machine at once; each node says its machine."""
    rec = record(lab)
    placement = rec["placement"]
    machines = machines_of(rec)
    if node is not None:
        if node not in placement:
            from ..errors import NotFoundError

            raise NotFoundError(f"lab {lab!r} has no node {node!r} (nodes: {', '.join(placement)})")
        machines = [m for m in machines if m.name == placement[node]]
    args = ["status", lab, *([node] if node else []), "--json"]
    replies = remote.each(machines, lambda m: remote.run(m, args, timeout=60))
    data = {"name": lab, "state": "up", "source": None, "nodes": [], "processes": [], "feature_lines": [],
            "machines": {}}
    for name, r in replies.items():
        part = r.json()
        data["machines"][name] = "unreachable" if r.unreachable else (part.get("state") or r.why())
        if not part:
            data["state"] = "degraded"
            continue
        data["source"] = data["source"] or part.get("source")
        data["nodes"] += [{**n, "machine": name} for n in part.get("nodes", []) if placement.get(n["node"]) == name]
        data["processes"] += [{**p, "name": f"{name}:{p['name']}"} for p in part.get("processes", [])]
        data["feature_lines"] += part.get("feature_lines", [])
    order = list(placement)
    data["nodes"].sort(key=lambda n: order.index(n["node"]) if n["node"] in order else len(order))
    return data


def exec_argv(lab: str, node: str, command: list[str], tty: bool = False) -> list[str]:
    """The ssh command that runs COMMAND in NODE on its machine (`netemu exec` there)."""
    rec = record(lab)
    machine = rec["placement"].get(node)
    if machine is None:
        from ..errors import NotFoundError

        raise NotFoundError(f"lab {lab!r} has no node {node!r} (nodes: {', '.join(rec['placement'])})")
    m = next(x for x in machines_of(rec) if x.name == machine)
    args = ["shell", lab, node] if tty else ["exec", lab, node, "--", *command]
    return remote.ssh_argv(m, args, tty=tty)


def test(lab: str, names: tuple[str, ...] = (), timeout: float | None = None, all_pairs: bool = False) -> dict:
    """Run the topology's declared checks, each on the machine of the node it starts from, and (asked, or
    when the topology declares none) every host's pings to every other host from the pinging host's
    machine: all machines at once."""
    from ..labtest.pairs import hosts_of
    from ..parse import topology_from_text

    rec = record(lab)
    if "topology" not in rec:
        raise LabError(f"lab {lab!r}: the coordinator's record has no topology (brought up by an older netemu)")
    topo = topology_from_text(rec["topology"], rec.get("source"))
    spec = topo.feature("tests")
    declared = {c.name: c for c in (spec.checks if spec else ())}
    unknown = [n for n in names if n not in declared]
    if unknown:
        raise UsageError(f"lab {lab!r} has no check {', '.join(map(repr, unknown))} "
                         f"(checks: {', '.join(declared) or 'none (the topology has no tests: section)'})")
    chosen = [declared[n] for n in names] if names else list(declared.values())
    do_pairs = all_pairs or not chosen  # as on one machine (labtest.runner.plan)
    hosts = hosts_of(topo) if do_pairs else []
    if do_pairs and len(hosts) < 2:
        raise UsageError(f"lab {lab!r} has fewer than two hosts with addresses: no pairs to ping "
                         "(declare checks in a tests: section)")
    by_machine: dict[str, list[str]] = {}
    for c in chosen:
        by_machine.setdefault(rec["placement"][c.node], []).append(c.name)
    sources: dict[str, list[str]] = {}
    for h in hosts:
        sources.setdefault(rec["placement"][h], []).append(h)
    extra = ["--timeout", str(timeout)] if timeout else []
    jobs = [(m, "checks") for m in machines_of(rec) if m.name in by_machine]
    jobs += [(m, "pairs") for m in machines_of(rec) if m.name in sources]

    def one(job: tuple[Machine, str]) -> remote.Reply:
        m, what = job
        if what == "checks":
            return remote.run(m, ["test", lab, *by_machine[m.name], "--json", *extra])
        return remote.run(m, ["part", "pairs", lab], json.dumps({"sources": sources[m.name], "timeout": timeout}))

    replies = dict(zip(jobs, remote.each_job(jobs, one)))
    results, problems, pairs, seconds = {}, [], [], 0.0
    for (m, what), r in replies.items():
        answer = r.json()
        if not answer:
            problems.append(f"{m.name}: {r.why()}")
        if what == "checks":
            for c in answer.get("checks") or []:
                results[c["name"]] = {**c, "machine": m.name}
        else:
            pairs += [{**p, "machine": m.name} for p in answer.get("pairs") or []]
            seconds = max(seconds, answer.get("seconds") or 0.0)
    ordered = [results[c.name] for c in chosen if c.name in results]
    report = {"lab": lab, "checks": ordered, "problems": problems,
              "passed": not problems and len(ordered) == len(chosen) and all(c["passed"] for c in ordered)}
    if do_pairs:
        order = {h: i for i, h in enumerate(hosts)}
        pairs.sort(key=lambda p: (order.get(p["from"], 0), order.get(p["to"], 0)))
        report["pairs"] = {"hosts": hosts, "seconds": seconds, "pairs": pairs}
        report["passed"] = report["passed"] and all(p["answered"] for p in pairs) and bool(pairs)
    return report
