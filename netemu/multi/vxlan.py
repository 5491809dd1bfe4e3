"""Create a VXLAN device inside a node's namespace from the machine's own namespace (netlink)."""

from __future__ import annotations

import ipaddress

from pyroute2.netlink import NLM_F_CREATE, NLM_F_EXCL
from pyroute2.netlink.rtnl import RTM_NEWLINK

from ..kernel.rtnl import Rtnl


def add_vxlan(sock: Rtnl, ns_fd: int, name: str, mac: str, mtu: int, vni: int, local: str, remote: str,
              port: int) -> None:
    """`ip link add NAME netns NS … type vxlan id VNI local L remote R dstport P`, sent on `sock`.

    `sock` belongs to the machine's namespace: the kernel opens the tunnel's UDP socket there (where
    the underlay route is) while the device is born in the namespace behind `ns_fd`.
    """
    v6 = ipaddress.ip_address(remote).version == 6
    data = [("IFLA_VXLAN_ID", vni), ("IFLA_VXLAN_PORT", port),
            ("IFLA_VXLAN_GROUP6" if v6 else "IFLA_VXLAN_GROUP", remote),
            ("IFLA_VXLAN_LOCAL6" if v6 else "IFLA_VXLAN_LOCAL", local),
            # Point to point: the one remote is known, so no flooding to learn it.
            ("IFLA_VXLAN_LEARNING", 0)]
    info = {"attrs": [("IFLA_INFO_KIND", "vxlan"), ("IFLA_INFO_DATA", {"attrs": data})]}
    attrs = [("IFLA_IFNAME", name), ("IFLA_ADDRESS", mac), ("IFLA_MTU", mtu), ("IFLA_NET_NS_FD", ns_fd),
             ("IFLA_LINKINFO", info)]
    sock.request(sock._link_msg(0, None, attrs), RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)
