"""A minimal synchronous rtnetlink client: pyroute2's message classes over one plain socket.

pyroute2's IPRoute runs an asyncio loop per call (~0.7 ms each); building a lab sends thousands
of small requests, so the hot path encodes with pyroute2 and talks to the socket directly, as
`ip -batch` does. Each request asks for an ACK; errors come back as OSError with the errno.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct

from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST
from pyroute2.netlink.rtnl import RTM_GETLINK, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE
from pyroute2.netlink.rtnl.ifaddrmsg import IFA_F_NODAD, ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.ndmsg import ndmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

NETLINK_ROUTE = 0
NLM_F_ECHO = 0x8
NLMSG_ERROR = 2
IFF_UP = 1
NUD_PERMANENT = 0x80
RTPROT_STATIC = 4
_HDR = struct.Struct("=LHHLL")
FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}


class Rtnl:
    """An rtnetlink socket bound to the namespace of the thread that created it (for life)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def request(self, msg, mtype: int, flags: int = 0) -> list[bytes]:
        """Send one request, wait for its ACK; returns the raw messages the kernel sent before it."""
        self.seq += 1
        msg["header"]["type"] = mtype
        msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | flags
        msg["header"]["sequence_number"] = self.seq
        msg.encode()
        self.sock.send(msg.data)
        replies: list[bytes] = []
        while True:
            data = self.sock.recv(1 << 16)
            off = 0
            while off + _HDR.size <= len(data):
                length, rtype, _, seq, _ = _HDR.unpack_from(data, off)
                if length < _HDR.size:
                    break
                if seq == self.seq:
                    if rtype == NLMSG_ERROR:
                        code = struct.unpack_from("=i", data, off + _HDR.size)[0]
                        if code:
                            raise OSError(-code, os.strerror(-code))
                        return replies
                    replies.append(data[off:off + length])
                off += (length + 3) & ~3

    # --- links ------------------------------------------------------------------------
    def _link_msg(self, index: int = 0, up: bool | None = None, attrs=()) -> ifinfmsg:
        m = ifinfmsg()
        m["index"] = index
        if up is not None:
            m["flags"] = IFF_UP if up else 0
            m["change"] = IFF_UP
        m["attrs"] = list(attrs)
        return m

    def _created(self, name: str, replies: list[bytes]) -> tuple[int, int | None]:
        """(ifindex, IFLA_LINK) of a link just created, from the kernel's echo or a lookup."""
        for raw in replies:
            m = ifinfmsg(raw)
            m.decode()
            if m.get_attr("IFLA_IFNAME") == name:
                return m["index"], m.get_attr("IFLA_LINK")
        # Kernels before 6.3 do not echo a new link: ask for it by name.
        return self.link_info(name)

    def link_info(self, name: str) -> tuple[int, int | None]:
        """(ifindex, IFLA_LINK) of interface `name` in this namespace."""
        replies = self.request(self._link_msg(attrs=[("IFLA_IFNAME", name)]), RTM_GETLINK)
        for raw in replies:
            m = ifinfmsg(raw)
            m.decode()
            return m["index"], m.get_attr("IFLA_LINK")
        raise OSError(errno.ENODEV, f"no interface {name}")

    def set_link(self, index: int = 0, name: str | None = None, up: bool | None = None, master: int | None = None,
                 mtu: int | None = None) -> None:
        """Change a link found by index (or by name when index is 0)."""
        attrs = []
        if index == 0 and name:
            attrs.append(("IFLA_IFNAME", name))
        if master is not None:
            attrs.append(("IFLA_MASTER", master))
        if mtu is not None:
            attrs.append(("IFLA_MTU", mtu))
        self.request(self._link_msg(index, up, attrs), RTM_NEWLINK)

    def add_bridge(self, name: str, mtu: int) -> int:
        """A bridge, STP off and no forwarding delay, up; returns its ifindex."""
        info = {"attrs": [("IFLA_INFO_KIND", "bridge"),
                          ("IFLA_INFO_DATA", {"attrs": [("IFLA_BR_STP_STATE", 0), ("IFLA_BR_FORWARD_DELAY", 0)]})]}
        msg = self._link_msg(0, True, [("IFLA_IFNAME", name), ("IFLA_MTU", mtu), ("IFLA_LINKINFO", info)])
        return self._created(name, self.request(msg, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO))[0]

    def add_veth(self, name: str, mac: str, mtu: int, peer_name: str, peer_mac: str, peer_ns_fd: int,
                 master: int | None = None) -> tuple[int, int]:
        """A veth pair, this end up (and enslaved to `master`), the peer born in another namespace.

        Returns (ifindex here, peer's ifindex in its namespace).
        """
        peer = {"attrs": [("IFLA_IFNAME", peer_name), ("IFLA_ADDRESS", peer_mac), ("IFLA_MTU", mtu),
                          ("IFLA_NET_NS_FD", peer_ns_fd)]}
        info = {"attrs": [("IFLA_INFO_KIND", "veth"), ("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", peer)]})]}
        attrs = [("IFLA_IFNAME", name), ("IFLA_ADDRESS", mac), ("IFLA_MTU", mtu), ("IFLA_LINKINFO", info)]
        if master is not None:
            attrs.append(("IFLA_MASTER", master))
        index, link = self._created(name, self.request(self._link_msg(0, True, attrs), RTM_NEWLINK,
                                                        NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO))
        if link is None:
            raise OSError(errno.EIO, f"veth {name}: the kernel did not report its peer")
        return index, link

    # --- addresses, routes, neighbours ------------------------------------------------
    def add_address(self, index: int, address: str) -> None:
        """An address; IPv6 without duplicate address detection (usable at once)."""
        iface = ipaddress.ip_interface(address)
        m = ifaddrmsg()
        m["family"] = FAMILY[iface.version]
        m["prefixlen"] = iface.network.prefixlen
        m["index"] = index
        attrs = [("IFA_ADDRESS", str(iface.ip))]
        if iface.version == 4:
            attrs.append(("IFA_LOCAL", str(iface.ip)))
            if iface.network.prefixlen < 31:
                attrs.append(("IFA_BROADCAST", str(iface.network.broadcast_address)))
        else:
            m["flags"] = IFA_F_NODAD
        m["attrs"] = attrs
        self.request(m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)

    def add_route(self, family: int, dst: str, via: str | None, oif: int | None, metric: int | None) -> None:
        """A static route in the main table ("default" or a prefix)."""
        m = rtmsg()
        m["family"] = FAMILY[family]
        m["table"] = 254
        m["proto"] = RTPROT_STATIC
        m["type"] = 1  # unicast
        m["scope"] = 0 if via else 253  # universe via a gateway, link scope when directly on a device
        attrs = []
        if dst != "default":
            net = ipaddress.ip_network(dst)
            m["dst_len"] = net.prefixlen
            attrs.append(("RTA_DST", str(net.network_address)))
        if via:
            attrs.append(("RTA_GATEWAY", via))
        if oif:
            attrs.append(("RTA_OIF", oif))
        if metric is not None:
            attrs.append(("RTA_PRIORITY", metric))
        m["attrs"] = attrs
        self.request(m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL)

    def add_neighbour(self, index: int, address: str, mac: str) -> None:
        """A permanent neighbour entry (exempt from the machine-wide gc_thresh3 limit)."""
        m = ndmsg()
        m["family"] = FAMILY[ipaddress.ip_address(address).version]
        m["ifindex"] = index
        m["state"] = NUD_PERMANENT
        m["attrs"] = [("NDA_DST", address), ("NDA_LLADDR", mac)]
        self.request(m, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE)
