"""A multi-machine lab as the coordinator's commands see it: every node reached on its own machine.

`RemoteLab` has the shape of `netemu.lab.Lab` (topology, node(NAME)), and its node handles the shape
of `NodeHandle` (run, popen, sysctl, set_sysctl), so scenarios measure through one kind of node handle
whichever machine a node is on. A process runs through `netemu part proc LAB NODE` on the node's
machine, over the same ssh as every other part command (see multi.proc for its control channel).
"""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
from dataclasses import dataclass

from .. import sysctls
from ..errors import LabError, NotFoundError, clip
from ..model import Node, Topology
from . import remote
from .inventory import Machine
from .proc import PROBE


def carried(topo: Topology, lowered: tuple[tuple[int, int, int], ...]) -> Topology:
    """The topology with each lowered link's MTU (and its two interfaces') what VXLAN carries."""
    mtu = {index: used for index, _, used in lowered}
    if not mtu:
        return topo

    def iface(i):
        return dataclasses.replace(i, mtu=mtu[i.link]) if i.link in mtu else i

    links = tuple(dataclasses.replace(link, mtu=mtu[link.index], a=iface(link.a), b=iface(link.b))
                  if link.index in mtu else link for link in topo.links)
    nodes = tuple(dataclasses.replace(n, interfaces=tuple(iface(i) for i in n.interfaces)) for n in topo.nodes)
    return dataclasses.replace(topo, links=links, nodes=nodes)


class RemoteProc(subprocess.Popen):
    """The local ssh of a process in a node on another machine; signals travel over its stdin."""

    def send_signal(self, sig: int) -> None:
        if self.poll() is not None:
            return
        line = f"{signal.Signals(sig).name[3:]}\n"
        try:
            self.stdin.write(line if self.text_mode else line.encode())
            self.stdin.flush()
        except (OSError, ValueError):
            pass
        if sig == signal.SIGKILL:  # the machine may not answer: drop the session too (its end stops the process)
            super().send_signal(signal.SIGKILL)


@dataclass(frozen=True)
class RemoteNode:
    """One node of a multi-machine lab, on `machine`."""

    lab: str
    model: Node
    ns: str
    machine: Machine

    @property
    def name(self) -> str:
        return self.model.name

    def _argv(self) -> list[str]:
        return remote.ssh_argv(self.machine, ["part", "proc", self.lab, self.name])

    def _reply(self, ask, part: list[str], input: str | None, timeout: float) -> remote.Reply:
        """`ask(agent)`'s answer from the machine's agent (one session for all), or `netemu part …` in a
        session of its own when there is none or it went away."""
        from . import agent

        helper = agent.get(self.lab, self.machine)
        if helper is not None:
            try:
                return remote.Reply(self.machine.name, *ask(helper))
            except agent.AgentGone:
                pass
        return remote.run(self.machine, part, input, timeout=timeout)

    def run(self, argv: list[str], timeout: float = 60, input: str | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
        """Run argv inside the node on its machine to completion (output captured as text): through the
        machine's agent (one session for all), or in a session of its own when there is none."""
        r = self._reply(lambda a: a.run(self.name, list(argv), input, timeout), ["part", "proc", self.lab, self.name],
                        json.dumps({"argv": list(argv), "input": input}), timeout)
        if check and r.code != 0:
            raise LabError(f"{self.name} (on {self.machine.name}): {' '.join(argv)} exited {r.code}: "
                           f"{r.err.strip()[:500]}")
        return subprocess.CompletedProcess(list(argv), r.code, r.out, r.err)

    def fib(self, timeout: float = 30) -> tuple | None:
        """The node's kernel FIB on its machine as `Route`s (netemu.kernel.fib, read there): through the
        machine's agent, or `netemu part fib` in a session of its own; None when its namespace is gone."""
        from ..kernel import fib

        try:
            r = self._reply(lambda a: a.fib(self.name, timeout), ["part", "fib", self.lab, self.name], None, timeout)
        except subprocess.TimeoutExpired:
            raise LabError(f"{self.name} (on {self.machine.name}): its routes were not read within "
                           f"{timeout:g} s") from None
        if r.code != 0:
            raise LabError(f"{self.name} (on {self.machine.name}): its routes cannot be read: {r.why()}")
        routes = r.json().get("routes")
        return None if routes is None else tuple(fib.from_json(x) for x in routes)

    def popen(self, argv: list[str], **kwargs) -> RemoteProc:
        """Start argv inside the node on its machine; stop it with send_signal/terminate/kill."""
        kwargs.pop("env", None)  # the machine's own environment (a probe gets the machine's netemu)
        kwargs.pop("stdin", None)  # the process gets no input: stdin is the control channel
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        kwargs.setdefault("text", True)
        # its own session: Ctrl-C at the terminal reaches the coordinator, which stops the process cleanly
        proc = RemoteProc(self._argv(), stdin=subprocess.PIPE, start_new_session=True, **kwargs)
        line = json.dumps({"argv": list(argv), "input": None}) + "\n"
        proc.stdin.write(line if proc.text_mode else line.encode())
        proc.stdin.flush()
        return proc

    def probe_argv(self, name: str, args: tuple) -> list[str]:
        """The argv of netemu's probe NAME as the node's machine runs it (its own Python and netemu)."""
        return [PROBE, name, *(str(a) for a in args)]

    def sysctl(self, key: str) -> str:
        """Read a sysctl as the node sees it."""
        return self.run(["cat", sysctls.proc_path(key)], timeout=15, check=True).stdout.strip()

    def set_sysctl(self, key: str, value: object) -> str:
        """Write a sysctl in the node; returns the previous value."""
        old = self.sysctl(key)
        self.run(["tee", sysctls.proc_path(key)], timeout=15, input=sysctls.value_text(value), check=True)
        return old


CONVERGE_TIMEOUT = 60.0  # seconds routing may take to converge on a lab a scenario brings up across machines


class RemoteLab:
    """A lab brought up across machines from this one (the coordinator's record)."""

    def __init__(self, name: str, topology: Topology, machines: dict[str, Machine], placement: dict[str, str]):
        self.name = name
        self.topology = topology  # with the MTUs VXLAN carries on links between machines
        self.machines = machines
        self.placement = placement

    @staticmethod
    def known(name: str) -> bool:
        """Whether `name` was brought up across machines from here."""
        from .coordinator import record

        return record(name) is not None

    @classmethod
    def up(cls, topo: Topology, text: str, hosts: str) -> RemoteLab:
        """Bring `topo` up across the machines of inventory file `hosts` (as `netemu up --hosts`); its handle."""
        from .coordinator import up
        from .inventory import load

        up(topo, load(hosts), text)
        lab = cls.attach(topo.name)
        if topo.feature("frr") is not None:  # as `Lab.up`: the handle once routing has converged
            try:
                lab.converge(CONVERGE_TIMEOUT)
            except BaseException:
                lab.down()
                raise
        return lab

    @property
    def topology_text(self) -> str:
        """The YAML the lab was brought up from (the coordinator's record)."""
        from .coordinator import record

        return record(self.name)["topology"]

    @classmethod
    def attach(cls, name: str) -> RemoteLab:
        """The handle of multi-machine lab `name`, from the coordinator's record."""
        from ..parse import topology_from_text
        from .coordinator import machines_of, record
        from .split import carried_mtu, lowered_links

        rec = record(name)
        if rec is None or "topology" not in rec or not rec.get("placement"):
            raise LabError(f"lab {name!r} is not up across machines from here")
        topo = topology_from_text(rec["topology"], rec.get("source"))
        machines = {m.name: m for m in machines_of(rec)}
        placement = rec["placement"]
        cut = [link.index for link in topo.links if placement.get(link.a.node) != placement.get(link.b.node)]
        if cut:
            cap = carried_mtu(rec["underlay_mtu"], {n: m.address for n, m in machines.items()})
            topo = carried(topo, lowered_links(topo, cut, cap))
        return cls(name, topo, machines, placement)

    def node(self, name: str) -> RemoteNode:
        """The handle of node `name`, on its machine."""
        try:
            model = self.topology.node(name)
        except KeyError:
            raise NotFoundError(f"lab {self.name!r} has no node {clip(repr(name), 60)} "
                                f"(nodes: {clip(', '.join(n.name for n in self.topology.nodes), 200)})") from None
        return RemoteNode(self.name, model, self.topology.namespace(name), self.machines[self.placement[name]])

    def live_state(self) -> dict | None:
        """The link-emulation state of the whole lab: each link as the machine that changes it keeps it.

        Every machine keeps a state file of its own (`netemu link` on it writes there): a link inside one
        machine is read from that machine, a link between machines from the one that cut it, if any.
        """
        from ..linkemu.state import state_path

        def read(m: Machine) -> dict | None:
            node = next(n for n, on in self.placement.items() if on == m.name)
            res = self.node(node).run(["cat", state_path(self.name)], timeout=30)
            try:
                return json.loads(res.stdout) if res.returncode == 0 else None
            except ValueError:
                return None

        states = {k: v for k, v in remote.each(self.machines.values(), read).items() if v}
        if not states:
            return None
        merged = dict(next(iter(states.values())))
        links = []
        for i, link in enumerate(merged.get("links", [])):
            seen = {m: st["links"][i] for m, st in states.items() if i < len(st.get("links", []))}
            down = [x for x in seen.values() if x.get("admin", "up") != "up"]
            owner = seen.get(self.placement.get(link["ends"][0]["node"]))
            links.append(down[0] if down else owner or link)
        merged["links"] = links
        return merged

    def set_impairment(self, endpoint: str, changes: dict, direction: str = "both") -> None:
        """`netemu link LAB NODE:IF set` on the machine(s) of that link (both machines for a link between
        them); `changes` as linkemu.runtime.set_impairment takes them (delay_us, jitter_us, loss_pct, …)."""
        from ..linkemu.model import ATTRS
        from .dispatch import link_machines

        unit = {"delay_us": "us", "jitter_us": "us", "loss_pct": "%", "bandwidth": "bit", "queue": ""}
        flag = {attr: key for key, attr in ATTRS.items()}
        args = ["link", self.name, endpoint, "set", "--direction", direction]
        for attr, value in changes.items():
            args += [f"--{flag[attr]}", "none" if value is None else f"{value:g}{unit[attr]}"]
        replies = remote.each(link_machines(self, endpoint, "set"), lambda m: remote.run(m, args, timeout=120))
        failed = [f"{n}: {r.why()}" for n, r in replies.items() if r.code != 0]
        if failed:
            raise LabError(f"link {endpoint} set: " + "; ".join(failed))

    def set_admin(self, endpoint: str, up: bool) -> str:
        """`netemu link LAB NODE:IF down|up` on the machine(s) of that link (both ends of a link between
        machines, each on its machine, at once); the answers."""
        from .dispatch import link_machines

        action = "up" if up else "down"
        replies = remote.each(link_machines(self, endpoint, action),
                              lambda m: remote.run(m, ["link", self.name, endpoint, action], timeout=60))
        failed = [f"{n}: {r.why()}" for n, r in replies.items() if r.code != 0]
        if failed:
            raise LabError(f"link {endpoint} {action}: " + "; ".join(failed))
        return "\n".join(r.out.strip() for r in replies.values())

    def converge(self, timeout: float) -> None:
        """Wait until routing has converged on every machine (each waits for its own routers, all at once)."""
        args = ["part", "converge", self.name, "--timeout", str(timeout)]
        replies = remote.each(self.machines.values(), lambda m: remote.run(m, args, timeout=timeout + 60))
        failed = [f"{n}: {r.why()}" for n, r in replies.items() if r.code != 0]
        if failed:
            raise LabError("routing did not converge: " + "; ".join(failed))

    def up_like(self, topo: Topology, text: str) -> RemoteLab:
        """Bring another lab up across the same machines (the inventory this one came up from)."""
        from .coordinator import record

        return RemoteLab.up(topo, text, record(self.name)["inventory"])

    def machine_facts(self, nodes: list[str]) -> dict:
        """The kernel facts of each machine that holds one of `nodes` (its release and timer frequency, read
        there through one of its nodes), asked of every such machine at once; the report's rows say them
        per machine."""
        script = ('r=$(uname -r); echo "$r"; for f in /boot/config-$r /proc/config.gz; do '
                  '[ -r "$f" ] || continue; hz=$( (zcat -f "$f" 2>/dev/null || cat "$f") | '
                  "sed -n 's/^CONFIG_HZ=\\([0-9]*\\)$/\\1/p'); "
                  '[ -n "$hz" ] && { echo "$hz $f"; break; }; done')
        first = {}
        for n in nodes:
            first.setdefault(self.placement[n], n)

        def ask(m: Machine) -> dict:
            res = self.node(first[m.name]).run(["sh", "-c", script], timeout=30)
            lines = res.stdout.split("\n")
            hz, _, where = (lines[1] if len(lines) > 1 else "").partition(" ")
            return {"kernel": lines[0].strip() or "unknown", "hz": int(hz) if hz.isdigit() else None,
                    "hz_source": where.strip() or "no kernel config found (/boot/config-RELEASE, /proc/config.gz)"}

        per = remote.each([self.machines[m] for m in first], ask)
        kernels = {f["kernel"] for f in per.values()}
        hzs = {f["hz"] for f in per.values()}
        one_hz = next(iter(hzs)) if len(hzs) == 1 else None
        return {"kernel": "; ".join(f"{m}: {f['kernel']}" for m, f in per.items()) if len(kernels) > 1
                else f"{next(iter(kernels))} (on {', '.join(per)})",
                "hz": one_hz,
                "hz_source": "; ".join(f"{m}: {f['hz_source']}" + ("" if one_hz else f" ({f['hz']})")
                                       for m, f in per.items()),
                "machines": per}

    def link_emulation(self) -> str:
        """What the report says about link emulation (each machine keeps its own; not read from here)."""
        return (f"on each of {len(set(self.placement.values()))} machines (not read from the coordinator); "
                "links between machines are VXLAN")

    def down(self) -> None:
        from .coordinator import down

        down(self.name)
