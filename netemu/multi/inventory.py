"""The machines of a multi-machine lab, read from an Ansible YAML inventory."""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Issue, TopologyError
from ..source import Source, parse_text

UNDERLAY_MTU = 1500  # assumed by `plan` when the inventory does not say (`up` measures it)


@dataclass(frozen=True)
class Machine:
    """One machine: how to reach it over SSH and how netemu runs there."""

    name: str
    host: str  # ansible_host (default: the inventory name)
    port: int | None = None  # ansible_port
    user: str | None = None  # ansible_user
    key: str | None = None  # ansible_ssh_private_key_file
    common_args: tuple[str, ...] = ()  # ansible_ssh_common_args, split like a shell would
    netemu: str = "netemu"  # netemu_command: how to run netemu there (a shell command prefix)
    underlay: str | None = None  # netemu_underlay: the address VXLAN uses (default: ansible_host if an IP)
    underlay_mtu: int | None = None  # netemu_underlay_mtu: for `plan`; `up` measures it
    control: str | None = None  # not from the inventory: the lab's directory of ssh control sockets (multi.mux)

    @property
    def address(self) -> str | None:
        """The underlay address of this machine, if known without asking it."""
        if self.underlay:
            return self.underlay
        try:
            return str(ipaddress.ip_address(self.host))
        except ValueError:
            return None


@dataclass(frozen=True)
class Inventory:
    """Every machine of the inventory, in the order they first appear."""

    path: str
    machines: tuple[Machine, ...]

    def machine(self, name: str) -> Machine:
        """The machine called `name` (KeyError if absent)."""
        return next(m for m in self.machines if m.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.machines)


_STR_VARS = {"ansible_host": "host", "ansible_user": "user", "ansible_ssh_private_key_file": "key",
             "netemu_command": "netemu", "netemu_underlay": "underlay"}
_INT_VARS = {"ansible_port": "port", "netemu_underlay_mtu": "underlay_mtu"}


def _walk(src: Source, group: Any, path: tuple, inherited: dict, hosts: dict, issues: list[Issue]) -> None:
    """Collect hosts of `group` and its children, with variables inherited from the enclosing groups."""
    if group is None:
        return
    if not isinstance(group, dict):
        issues.append(src.issue(path, "a group must be a mapping with hosts, vars and children"))
        return
    for key in group:
        if key not in ("hosts", "vars", "children"):
            issues.append(src.issue(path + (key,), "unknown group key (expected hosts, vars, children)"))
    own = group.get("vars") or {}
    if not isinstance(own, dict):
        issues.append(src.issue(path + ("vars",), "must be a mapping of variables"))
        own = {}
    scope = {**inherited, **{k: (v, path + ("vars", k)) for k, v in own.items()}}
    members = group.get("hosts") or {}
    if not isinstance(members, dict):
        issues.append(src.issue(path + ("hosts",), "must be a mapping of host names to variables"))
        members = {}
    for name, hv in members.items():
        if hv is not None and not isinstance(hv, dict):
            issues.append(src.issue(path + ("hosts", name), "host variables must be a mapping"))
            hv = {}
        merged = hosts.setdefault(name, {})
        for k, v in scope.items():
            merged.setdefault(k, v)  # the first group that names the host sets inherited vars
        for k, v in (hv or {}).items():
            merged[k] = (v, path + ("hosts", name, k))  # host variables win
    children = group.get("children") or {}
    if not isinstance(children, dict):
        issues.append(src.issue(path + ("children",), "must be a mapping of group names"))
        return
    for child, body in children.items():
        _walk(src, body, path + ("children", child), scope, hosts, issues)


def _machine(src: Source, name: str, variables: dict, issues: list[Issue]) -> Machine:
    fields: dict[str, Any] = {"host": name}
    for var, (value, path) in variables.items():
        if var in _STR_VARS:
            if not isinstance(value, str) or not value:
                issues.append(src.issue(path, "must be a non-empty string"))
                continue
            fields[_STR_VARS[var]] = value
        elif var in _INT_VARS:
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                issues.append(src.issue(path, "must be a number from 1 to 65535"))
                continue
            fields[_INT_VARS[var]] = value
        elif var == "ansible_ssh_common_args":
            try:
                fields["common_args"] = tuple(shlex.split(str(value)))
            except ValueError as e:
                issues.append(src.issue(path, f"cannot split like a shell: {e}"))
    if "underlay" in fields:
        try:
            ipaddress.ip_address(fields["underlay"])
        except ValueError:
            issues.append(src.issue(variables["netemu_underlay"][1], "must be an IP address"))
    return Machine(name=name, **fields)


def from_text(text: str, filename: str | None = None) -> Inventory:
    """Parse inventory text; every problem at once as a TopologyError (exit 2) naming file and line."""
    src = parse_text(text, filename)
    issues: list[Issue] = []
    hosts: dict[str, dict] = {}
    for group, body in src.data.items():
        _walk(src, body, (group,), {}, hosts, issues)
    machines = tuple(_machine(src, name, v, issues) for name, v in hosts.items())
    if not machines and not issues:
        issues.append(Issue("", "no hosts: list machines under all: hosts: (Ansible YAML inventory)", 1))
    seen: dict[tuple, str] = {}
    for m in machines:
        where = (m.host, m.port)
        if where in seen:
            issues.append(Issue("", f"hosts {seen[where]} and {m.name} are the same machine ({m.host})"))
        seen[where] = m.name
    if issues:
        raise TopologyError(filename, issues)
    return Inventory(filename or "<inventory>", machines)


def load(path: str) -> Inventory:
    """Read an inventory file."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise TopologyError(path, [Issue("", f"cannot read: {e.strerror}")]) from None
    return from_text(text, path)
