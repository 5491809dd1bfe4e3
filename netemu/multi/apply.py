"""Apply a CreateVxlan on the machine that builds its part of a lab."""

from __future__ import annotations

from ..apply import Runner
from ..kernel.rtnl import Rtnl
from .ops import CreateVxlan
from .vxlan import add_vxlan


def _create_vxlan(runner: Runner, op: CreateVxlan) -> None:
    # The socket is opened here, in the thread's own namespace: the machine's, which owns the underlay
    # (one per cut link: there are few, and nothing stays open after `up`).
    sock = Rtnl()
    try:
        add_vxlan(sock, runner.nl.fd(op.ns), op.ifname, op.mac, op.mtu, op.vni, op.local, op.remote, op.port)
    finally:
        sock.close()
    node = runner.nl.sock(op.ns)
    index = node.link_info(op.ifname)[0]
    node.set_link(index, up=True, master=runner.nl.index(op.ns, op.master) if op.master else None)


HANDLERS = {CreateVxlan: _create_vxlan}
