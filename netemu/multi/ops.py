"""The one kind of operation a multi-machine lab adds: one end of a link cut between two machines."""

from __future__ import annotations

from dataclasses import dataclass

from .. import ops


@ops.register
@dataclass(frozen=True)
class CreateVxlan(ops.Op):
    """A VXLAN device born in the node's namespace; its UDP socket stays in the machine's own namespace.

    The kernel keeps the tunnel's socket in the namespace that sent the request (the one that owns
    the underlay route), while the device itself is created directly inside the node's namespace:
    nothing but that socket exists outside the lab's namespaces, and it goes with the device.
    """

    ns: str
    ifname: str
    mac: str
    mtu: int
    vni: int
    local: str
    remote: str
    port: int
    master: str | None = None  # bridge in `ns` to enslave the device to (a switch spanning machines)

    def text(self) -> str:
        master = f"; ip -n {self.ns} link set {self.ifname} master {self.master}" if self.master else ""
        return (f"ip link add {self.ifname} netns {self.ns} address {self.mac} mtu {self.mtu} type vxlan "
                f"id {self.vni} local {self.local} remote {self.remote} dstport {self.port}{master}")
