"""Links, addresses, routes and neighbours over netlink (pyroute2), one socket per namespace."""

from __future__ import annotations

import contextlib
import ipaddress
import os

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ifaddrmsg import IFA_F_NODAD

from . import netns

NUD_PERMANENT = 0x80
AF = {4: 2, 6: 10}  # AF_INET, AF_INET6


def describe(err: BaseException) -> str:
    """A readable reason for a netlink or OS error (errno name and message)."""
    code = getattr(err, "code", None) or getattr(err, "errno", None)
    if code:
        import errno as errno_mod

        return f"{errno_mod.errorcode.get(code, code)}: {os.strerror(code)}"
    return str(err)


class Netlink:
    """Per-namespace IPRoute sockets, opened in-process and reused for every operation."""

    def __init__(self) -> None:
        self._socks: dict[str, IPRoute] = {}
        self._index: dict[tuple[str, str], int] = {}

    # --- namespaces -------------------------------------------------------------------
    def create_namespace(self, ns: str) -> None:
        """Create `ns`, open its socket from inside it, bring loopback up."""
        with netns.created(ns):
            # A netlink socket belongs to the namespace of the thread that opens it, for life.
            ipr = IPRoute()
        self._socks[ns] = ipr
        ipr.link("set", index=1, state="up")

    def sock(self, ns: str) -> IPRoute:
        """The socket of an existing namespace (opened on first use)."""
        ipr = self._socks.get(ns)
        if ipr is None:
            with netns.entered(ns):
                ipr = IPRoute()
            self._socks[ns] = ipr
        return ipr

    def index(self, ns: str, ifname: str) -> int:
        """The ifindex of `ifname` in `ns` (cached)."""
        key = (ns, ifname)
        if key not in self._index:
            found = self.sock(ns).link_lookup(ifname=ifname)
            if not found:
                raise LookupError(f"no interface {ifname!r} in namespace {ns}")
            self._index[key] = found[0]
        return self._index[key]

    # --- links ------------------------------------------------------------------------
    def create_bridge(self, ns: str, name: str, mtu: int) -> None:
        """A bridge with STP off and no forwarding delay, up."""
        self.sock(ns).link("add", ifname=name, kind="bridge", br_stp_state=0, br_forward_delay=0, mtu=mtu,
                           state="up")

    def create_veth(self, ns, ifname, mac, peer_ns, peer_ifname, peer_mac, mtu, master=None, peer_master=None):
        """A veth pair whose peer is born in `peer_ns`; both ends up (and enslaved if asked)."""
        ipr = self.sock(ns)
        fd = netns.open_fd(peer_ns)
        try:
            kwargs = dict(ifname=ifname, kind="veth", address=mac, mtu=mtu, state="up",
                          peer={"ifname": peer_ifname, "net_ns_fd": fd, "address": peer_mac, "mtu": mtu})
            if master:
                kwargs["master"] = self.index(ns, master)
            ipr.link("add", **kwargs)
        finally:
            os.close(fd)
        peer = self.sock(peer_ns)
        pidx = self.index(peer_ns, peer_ifname)
        # The kernel ignores the peer's IFF_UP in the create request: bring it up from its side.
        if peer_master:
            peer.link("set", index=pidx, master=self.index(peer_ns, peer_master), state="up")
        else:
            peer.link("set", index=pidx, state="up")

    def set_link(self, ns: str, ifname: str, up: bool) -> None:
        """Administratively bring an interface up or down."""
        self.sock(ns).link("set", index=self.index(ns, ifname), state="up" if up else "down")

    # --- addresses, routes, neighbours ------------------------------------------------
    def add_address(self, ns: str, ifname: str, address: str) -> None:
        """Add an address; IPv6 without DAD so it is usable at once."""
        iface = ipaddress.ip_interface(address)
        kwargs = dict(index=self.index(ns, ifname), address=str(iface.ip), prefixlen=iface.network.prefixlen)
        if iface.version == 6:
            kwargs["flags"] = IFA_F_NODAD
        elif iface.network.prefixlen < 31:
            kwargs["broadcast"] = str(iface.network.broadcast_address)
        self.sock(ns).addr("add", **kwargs)

    def add_route(self, ns, family, dst, via=None, dev=None, metric=None) -> None:
        """Add a static route (proto static)."""
        kwargs: dict = {"family": AF[family], "dst": dst if dst != "default" else ("0.0.0.0/0" if family == 4 else "::/0"),
                        "proto": 4}
        if via:
            kwargs["gateway"] = via
        if dev:
            kwargs["oif"] = self.index(ns, dev)
        if metric is not None:
            kwargs["priority"] = metric
        self.sock(ns).route("add", **kwargs)

    def add_neighbour(self, ns: str, ifname: str, address: str, mac: str) -> None:
        """A permanent neighbour entry (exempt from the machine-wide neighbour limit)."""
        family = AF[ipaddress.ip_address(address).version]
        self.sock(ns).neigh("replace", dst=address, lladdr=mac, ifindex=self.index(ns, ifname), state=NUD_PERMANENT,
                            family=family)

    # --- sysctls ----------------------------------------------------------------------
    @staticmethod
    def write_sysctl(ns: str, path: str, value: str) -> None:
        """Write /proc/sys/… as seen from `ns` (the file is resolved in the opener's namespace)."""
        with netns.entered(ns):
            with open(path, "w") as f:
                f.write(value)

    def close(self) -> None:
        """Close every socket."""
        for ipr in self._socks.values():
            with contextlib.suppress(Exception):
                ipr.close()
        self._socks.clear()
        self._index.clear()


__all__ = ["Netlink", "NetlinkError", "describe"]
