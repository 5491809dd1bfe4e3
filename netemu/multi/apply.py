"""Apply a CreateVxlan on the machine that builds its part of a lab."""

from __future__ import annotations

from ..apply import Runner
from ..kernel.rtnl import Rtnl
from .ops import CreateVxlan
from .vxlan import add_vxlan


def _create_vxlan(runner: Runner, op: CreateVxlan) -> None:
    # The socket is opened here, in the thread's own namespace: the machine's, which owns the underlay.
    sock = getattr(runner, "_machine_sock", None)
    if sock is None:
        sock = runner._machine_sock = Rtnl()
    add_vxlan(sock, runner.nl.fd(op.ns), op.ifname, op.mac, op.mtu, op.vni, op.local, op.remote, op.port)
    node = runner.nl.sock(op.ns)
    index = node.link_info(op.ifname)[0]
    node.set_link(index, up=True, master=runner.nl.index(op.ns, op.master) if op.master else None)


HANDLERS = {CreateVxlan: _create_vxlan}
