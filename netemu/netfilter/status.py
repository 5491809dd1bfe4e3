"""`netemu status LAB NODE`: a node's live NAT and firewall rules with counters, and its translations."""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Callable

from ..errors import LabError
from ..kernel import netns, procs
from . import conntrack
from .backend import save_tool
from .render import COMMENT_PREFIX

# runs argv inside a namespace: (namespace, argv) -> (exit status, stdout, stderr)
Runner = Callable[[str, list[str]], tuple[int, str, str]]

# Link emulation's own rules (NFQUEUE delay, random loss) live in this chain, reached by a rule commented
# "netemu-linkemu"; each of them carries the link it serves ("links[0]:h1:eth0->r1:eth0") as its comment.
LINKEMU_CHAIN = "NETEMU-LINKEMU"
_COMMENT = re.compile(r'\s*-m comment --comment ("(?:[^"\\]|\\.)*"|\S+)')


def _run(ns: str, argv: list[str]) -> tuple[int, str, str]:
    if shutil.which(argv[0]) is None:
        return 127, "", f"{argv[0]} is not installed"
    res = procs.run(ns, argv, timeout=20)
    return res.returncode, res.stdout, res.stderr


def parse_save(text: str) -> list[dict]:
    """Tables of `iptables-save -c` output: chains with policy and counters, rules with counters."""
    tables: list[dict] = []
    chains: dict[str, dict] = {}
    for line in text.splitlines():
        if line.startswith("*"):
            chains = {}
            tables.append({"table": line[1:].strip(), "chains": []})
        elif line.startswith(":") and tables:
            name, policy, counters = (line[1:].split() + ["-", "[0:0]"])[:3]
            packets, _, nbytes = counters.strip("[]").partition(":")
            chain = {"chain": name, "policy": None if policy == "-" else policy,
                     "packets": int(packets or 0), "bytes": int(nbytes or 0), "rules": []}
            chains[name] = chain
            tables[-1]["chains"].append(chain)
        elif line.startswith("[") and tables:
            counters, _, spec = line.partition(" ")
            packets, _, nbytes = counters.strip("[]").partition(":")
            words = shlex.split(spec)
            if len(words) < 2 or words[0] != "-A":
                continue
            chain = chains.setdefault(words[1], {"chain": words[1], "policy": None, "packets": 0, "bytes": 0,
                                                 "rules": []})
            rest = spec.split(None, 2)[2] if len(spec.split(None, 2)) > 2 else ""
            comment = _COMMENT.search(rest)
            value = shlex.split(comment.group(1))[0] if comment else None
            if comment:
                rest = (rest[:comment.start()] + rest[comment.end():]).strip()
            chain["rules"].append({"rule": rest, "packets": int(packets or 0), "bytes": int(nbytes or 0),
                                   **_owner(words[1], value)})
    return tables


def _owner(chain: str, comment: str | None) -> dict:
    """Who put a rule there: {"lab": LAB or None, "owner": "nat/firewall" | "link emulation" | "scenario" | None}."""
    if comment and comment.startswith(COMMENT_PREFIX):
        return {"lab": comment[len(COMMENT_PREFIX):], "owner": "nat/firewall"}
    if chain == LINKEMU_CHAIN or comment == "netemu-linkemu":
        return {"lab": None, "owner": "link emulation"}
    if comment == "netemu-scenario":  # netemu.scenarios.nodes.RULE_COMMENT: a case's rule, removed after it
        return {"lab": None, "owner": "scenario"}
    return {"lab": None, "owner": None}


def node_report(namespace: str, run: Runner = _run) -> dict:
    """The node's rules (both families, both back ends that hold any) and its conntrack translations."""
    if run is _run and not netns.exists(namespace):
        raise LabError(f"network namespace {namespace!r} does not exist (is the lab up?)")
    report: dict = {"namespace": namespace, "tables": [], "translations": [], "tracked": 0, "problems": []}
    for family in (4, 6):
        for backend in ("nft", "legacy"):
            tool = save_tool(backend, family)
            code, out, err = run(namespace, [tool, "-c"])
            if code == 127:
                continue  # that back end is not installed: it cannot hold rules either
            if code != 0:
                report["problems"].append(f"{tool}: {(err or out).strip() or f'exit status {code}'}")
                continue
            for table in parse_save(out):
                if any(c["rules"] or c["policy"] not in (None, "ACCEPT") for c in table["chains"]):
                    report["tables"].append({"family": family, "backend": backend, **table})
    for family in ("ipv4", "ipv6"):
        code, out, err = run(namespace, ["conntrack", "-L", "-f", family])
        if code != 0:
            report["problems"].append(f"conntrack: {(err or out).strip() or f'exit status {code}'}")
            break
        flows = conntrack.parse(out)
        report["tracked"] += len(flows)
        report["translations"] += [f.to_json() for f in flows if f.snat or f.dnat]
    return report


def render_text(report: dict) -> str:
    """The report as aligned text: per table and chain, counters then rule; then translations."""
    lines: list[str] = []
    if not report["tables"]:
        lines.append("no NAT or firewall rules")
    for table in report["tables"]:
        lines.append(f"IPv{table['family']} {table['table']} ({table['backend']})")
        for chain in table["chains"]:
            if not chain["rules"] and chain["policy"] in (None, "ACCEPT"):
                continue
            policy = f"policy {chain['policy']}" if chain["policy"] else "user chain"
            lines.append(f"  {chain['chain']} ({policy}, {chain['packets']} packets)")
            for rule in chain["rules"]:
                owner = rule.get("owner")
                mark = ("  (not netemu's)" if owner is None else
                        "" if owner == "nat/firewall" else f"  ({owner})")
                lines.append(f"    {rule['packets']:>8} pkts {_size(rule['bytes']):>7}  {rule['rule']}{mark}")
    lines.append(f"translations ({len(report['translations'])} of {report['tracked']} tracked connections):")
    lines += [f"  {t['text']}" for t in report["translations"]] or ["  none"]
    lines += [f"note: {p}" for p in report["problems"]]
    return "\n".join(lines)


def _size(n: int) -> str:
    for unit in ("B", "K", "M", "G"):
        if n < 1024 or unit == "G":
            return f"{n}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return str(n)
