"""Which machine runs a command about one node of a lab across machines (`link`, `capture`, `dns`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from ..errors import NotFoundError, UsageError
from . import remote
from .inventory import Machine
from .nodes import RemoteLab

STOP_WAIT = 10.0  # seconds a stopped capture has to flush its last packets over ssh


def _interface(lab: RemoteLab, endpoint: str):
    """The interface NODE[:IF] names (None when NODE has several and IF is not given)."""
    node, _, ifname = endpoint.partition(":")
    model = lab.node(node).model
    if ifname:
        iface = model.interface(ifname)
        if iface is None:
            raise NotFoundError(f"node {node!r} has no interface {ifname!r} "
                                f"(it has: {', '.join(i.name for i in model.interfaces) or 'none'})")
        return iface
    return model.interfaces[0] if len(model.interfaces) == 1 else None


def link_machines(lab: RemoteLab, endpoint: str, action: str) -> list[Machine]:
    """The machines whose `netemu link` acts on the link at NODE[:IF].

    A link inside one machine is that machine's. A link between machines is changed on both: for `set`
    each machine shapes what its end sends and delays what its end receives; for `down` and `up` each
    sets its own end down or up (over VXLAN the far end would not lose its carrier: a pulled cable is
    both ends down). `show` asks the machine of the end named.
    """
    node = endpoint.partition(":")[0]
    iface = _interface(lab, endpoint)
    if iface is None:
        return [lab.node(node).machine]  # its machine says which interfaces there are to choose from
    link = lab.topology.links[iface.link]
    ends = (link.a, link.b)
    machines = {lab.placement[e.node] for e in ends}
    if len(machines) == 1:
        return [lab.node(node).machine]
    if action in ("set", "down", "up"):
        return [lab.machines[m] for m in sorted(machines)]
    return [lab.node(node).machine]


def dns_machine(lab: RemoteLab, node: str) -> Machine:
    """The machine of the resolver NODE uses (where its control socket is), else NODE's own machine."""
    from ..dns.plan import index

    lab.node(node)  # NotFoundError for a node the lab does not have
    spec = lab.topology.feature("dns")
    if spec is None:
        raise UsageError(f"lab {lab.name!r} has no DNS (its topology has no 'dns:' section)")
    found = index(lab.topology, spec)
    resolver = node if node in found["resolvers"] else found["clients"].get(node, node)
    return lab.node(resolver).machine


def forward(machine: Machine, args: list[str]) -> None:
    """Run `netemu ARGS` on `machine` in place of this process: output and exit status pass through."""
    argv = remote.ssh_argv(machine, args)
    sys.stdout.flush()
    os.execvp(argv[0], argv)


def stream(lab: RemoteLab, node: str, argv: list[str], out) -> int:
    """Run argv (a capture) in NODE on its machine with its stdout into `out` (a binary file, or None for
    this stdout) until it ends or Ctrl-C; Ctrl-C stops it there with SIGINT, so its last packets arrive."""
    proc = lab.node(node).popen(argv, stdout=out, stderr=None, text=False)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
