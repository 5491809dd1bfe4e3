"""Links, addresses, routes and neighbours of a lab's namespaces, one netlink socket per namespace."""

from __future__ import annotations

import contextlib
import os

from . import netns
from .rtnl import Rtnl


def describe(err: BaseException) -> str:
    """A readable reason for a netlink or OS error (errno name and message)."""
    code = getattr(err, "code", None) or getattr(err, "errno", None)
    if isinstance(code, int) and code > 0:
        import errno as errno_mod

        return f"{errno_mod.errorcode.get(code, code)}: {os.strerror(code)}"
    return str(err)


class Netlink:
    """Per-namespace rtnetlink sockets, opened in-process and reused; remembers every ifindex it made."""

    def __init__(self) -> None:
        self._socks: dict[str, Rtnl] = {}
        self._fds: dict[str, int] = {}
        self._index: dict[tuple[str, str], int] = {}

    def create_namespace(self, ns: str) -> None:
        """Create `ns`, open its socket from inside it, bring loopback up."""
        with netns.created(ns):
            # A netlink socket belongs to the namespace of the thread that opens it, for life.
            sock = Rtnl()
            self._fds[ns] = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self._socks[ns] = sock
        sock.set_link(1, up=True)

    def sock(self, ns: str) -> Rtnl:
        """The socket of an existing namespace (opened on first use)."""
        sock = self._socks.get(ns)
        if sock is None:
            with netns.entered(ns):
                sock = Rtnl()
            self._socks[ns] = sock
        return sock

    def index(self, ns: str, ifname: str) -> int:
        """The ifindex of `ifname` in `ns` (known from its creation, else asked once)."""
        key = (ns, ifname)
        if key not in self._index:
            self._index[key] = self.sock(ns).link_info(ifname)[0]
        return self._index[key]

    def create_bridge(self, ns: str, name: str, mtu: int) -> None:
        """A bridge with STP off and no forwarding delay, up."""
        self._index[(ns, name)] = self.sock(ns).add_bridge(name, mtu)

    def fd(self, ns: str) -> int:
        """A descriptor of namespace `ns`, kept open while this object lives."""
        if ns not in self._fds:
            self._fds[ns] = netns.open_fd(ns)
        return self._fds[ns]

    def create_veth(self, ns, ifname, mac, peer_ns, peer_ifname, peer_mac, mtu, master=None, peer_master=None):
        """A veth pair whose peer is born in `peer_ns`; both ends up (and enslaved if asked)."""
        master_index = self.index(ns, master) if master else None
        index, peer_index = self.sock(ns).add_veth(ifname, mac, mtu, peer_ifname, peer_mac, self.fd(peer_ns),
                                                   master_index)
        self._index[(ns, ifname)] = index
        self._index[(peer_ns, peer_ifname)] = peer_index
        # The kernel ignores IFF_UP in the peer's part of the request: bring it up from its side.
        peer_master_index = self.index(peer_ns, peer_master) if peer_master else None
        self.sock(peer_ns).set_link(peer_index, up=True, master=peer_master_index)

    def add_address(self, ns: str, ifname: str, address: str) -> None:
        """Add an address; IPv6 without DAD so it is usable at once."""
        self.sock(ns).add_address(self.index(ns, ifname), address)

    def add_route(self, ns, family, dst, via=None, dev=None, metric=None) -> None:
        """Add a static route."""
        self.sock(ns).add_route(family, dst, via, self.index(ns, dev) if dev else None, metric)

    def add_neighbour(self, ns: str, ifname: str, address: str, mac: str) -> None:
        """A permanent neighbour entry (exempt from the machine-wide neighbour limit)."""
        self.sock(ns).add_neighbour(self.index(ns, ifname), address, mac)

    def write_sysctl(self, ns: str, path: str, value: str) -> None:
        """Write /proc/sys/… as seen from `ns` (the file is resolved in the opener's namespace)."""
        with netns.entered_fd(self.fd(ns)), open(path, "w") as f:
            f.write(value)

    def close(self) -> None:
        """Close every socket."""
        for sock in self._socks.values():
            with contextlib.suppress(OSError):
                sock.close()
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._socks.clear()
        self._fds.clear()
        self._index.clear()
