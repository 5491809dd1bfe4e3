"""What a lab's link emulation needs from the machine, against what it has."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import Topology
    from . import caps as capsmod
    from .model import LinkEmu


def problems(model: LinkEmu, caps: capsmod.Caps, topo: Topology | None = None) -> list[str]:
    """What the lab needs that this machine lacks (empty: it can run)."""
    from . import caps as capsmod

    needs = model.needs()
    out: list[str] = []
    if "bandwidth" in needs and not caps.rate:
        out.append(f"bandwidth limits need the tbf qdisc: {caps.why('tbf')}")
    if capsmod.backend(caps) == "netem":
        return out
    if needs & {"delay", "jitter"} and not caps.delay_line:
        out.append(f"delay and jitter need netem (missing: {caps.why('netem')}) or NFQUEUE for the userspace "
                   f"delay line (missing: {caps.why('iptables_nfqueue', 'nfqueue_socket', 'iptables_restore')})")
    if "loss" in needs and not caps.random_drop:
        out.append(f"loss needs netem (missing: {caps.why('netem')}) or the iptables statistic match "
                   f"(missing: {caps.why('iptables_statistic')})")
    if topo is not None:
        by_index = {link.index: link for link in topo.links}
        ipv6 = False
        into_switch = []
        for li in model.links:
            link = by_index[li.link]
            for imp, receiver in ((li.ab, link.b), (li.ba, link.a)):
                if not (imp.delays or imp.loss_pct):
                    continue
                if topo.node(receiver.node).is_switch:
                    into_switch.append(f"links[{li.link}] into {receiver.node}")
                ipv6 |= any(a.version == 6 for a in (*link.a.addresses, *link.b.addresses))
        if into_switch and not caps.bridge_hook:
            out.append(f"delay or loss on traffic entering a switch ({', '.join(into_switch[:3])}) needs "
                       f"br_netfilter and the physdev match without netem: "
                       f"{caps.why('br_netfilter', 'iptables_physdev')}")
        if ipv6 and needs & {"delay", "jitter"} and not caps.delay_line6:
            out.append(f"delay on IPv6 traffic needs ip6tables NFQUEUE: {caps.why('ip6tables_nfqueue')}")
    return out
