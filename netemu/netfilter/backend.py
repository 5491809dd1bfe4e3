"""Which iptables programs a backend uses (nf_tables, legacy, or the system's default)."""

from __future__ import annotations

import shutil

_SUFFIX = {"auto": "", "nft": "-nft", "legacy": "-legacy"}


def restore_tool(backend: str, family: int) -> str:
    """The restore program, e.g. `iptables-nft-restore` or `ip6tables-restore`."""
    base = "iptables" if family == 4 else "ip6tables"
    return f"{base}{_SUFFIX[backend]}-restore"


def save_tool(backend: str, family: int) -> str:
    """The save program matching `restore_tool`."""
    base = "iptables" if family == 4 else "ip6tables"
    return f"{base}{_SUFFIX[backend]}-save"


def missing_tools(backend: str, families: set[int]) -> list[str]:
    """Restore programs this backend needs that are not installed."""
    return [t for t in (restore_tool(backend, f) for f in sorted(families)) if shutil.which(t) is None]
