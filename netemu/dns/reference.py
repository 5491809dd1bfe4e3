"""Configurations that make independent DNS software serve or resolve a running lab's names.

Unbound, BIND 9 and NSD (Debian packages) are what the tests and bench/dns_bench.py compare netemu's
servers against: they read the zone lines netemu derives (`/run/netemu/<lab>/dns/<node>.json`) and
the root hints (`/run/netemu/<lab>/dns/root.hints`). Each is run by hand (`unbound -d -c`,
`named -g -c`, `nsd -d -c`) with everything in one scratch directory, never as a system service.
"""

from __future__ import annotations

import json
from pathlib import Path

from .plan import dns_dir


def unbound_conf(lab: str, d: Path, addr: str, allow: str, extra: tuple[str, ...] = ()) -> Path:
    """An Unbound config in `d` listening on `addr` for clients in `allow`, iterating from the lab's root
    hints with QNAME minimisation and 0x20 (no validator: the lab's zones are unsigned); returns its path."""
    (d / "root.hints").write_text((dns_dir(lab) / "root.hints").read_text())
    lines = ["server:", f"    interface: {addr}", f"    access-control: {allow} allow", "    do-ip6: no",
             '    username: ""', '    chroot: ""', f'    directory: "{d}"', f'    pidfile: "{d}/unbound.pid"',
             "    use-syslog: no", f'    root-hints: "{d}/root.hints"', '    module-config: "iterator"',
             "    do-not-query-localhost: no", "    qname-minimisation: yes", "    use-caps-for-id: yes",
             *(f"    {x}" for x in extra), "remote-control:", "    control-enable: no", ""]
    (d / "unbound.conf").write_text("\n".join(lines))
    return d / "unbound.conf"


def zone_files(lab: str, node: str, d: Path) -> dict[str, str]:
    """Write the zones netemu serves on `node` into `d` as z0.zone, z1.zone, …; returns origin → file name."""
    cfg = json.loads((dns_dir(lab) / f"{node}.json").read_text())
    files = {}
    for i, (origin, lines) in enumerate(cfg["zones"].items()):
        (d / f"z{i}.zone").write_text("\n".join(lines) + "\n")
        files[origin] = f"z{i}.zone"
    return files


def named_conf(lab: str, node: str, d: Path, listen: list[str], port: int = 53, minimal: bool = True) -> Path:
    """A BIND 9 config in `d` serving `node`'s zones authoritatively on `listen` (IPv4) and `port`."""
    zones = "".join(f'zone "{o}" {{ type primary; file "{f}"; }};\n' for o, f in zone_files(lab, node, d).items())
    (d / "named.conf").write_text(f"""options {{ directory "{d}"; listen-on port {port} {{ {"; ".join(listen)}; }};
  listen-on-v6 {{ none; }}; recursion no; dnssec-validation no; minimal-responses {"yes" if minimal else "no"};
  notify no; pid-file "{d}/named.pid"; session-keyfile "{d}/session.key"; managed-keys-directory "{d}"; }};
controls {{ }};
{zones}""")
    return d / "named.conf"


def nsd_conf(lab: str, node: str, d: Path, addr: str, port: int = 53) -> Path:
    """An NSD config in `d` serving `node`'s zones on `addr` and `port`, without remote control."""
    zones = "".join(f'zone:\n  name: "{o}"\n  zonefile: "{f}"\n' for o, f in zone_files(lab, node, d).items())
    (d / "nsd.conf").write_text(f"""server:
  ip-address: {addr}@{port}
  port: {port}
  username: ""
  chroot: ""
  zonesdir: "{d}"
  database: ""
  pidfile: "{d}/nsd.pid"
  xfrdfile: "{d}/xfrd.state"
  xfrdir: "{d}"
  zonelistfile: "{d}/zone.list"
  server-count: 1
  do-ip6: no
remote-control:
  control-enable: no
{zones}""")
    return d / "nsd.conf"
