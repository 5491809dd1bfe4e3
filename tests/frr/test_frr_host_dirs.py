"""FRR's daemons write nothing into the host's shared FRR directories: every file stays in the lab."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conftest import leftovers, needs_root, netemu, unique_name

from frr_labs import BGP, lab_processes, needs_frr, write

# Where Debian's FRR 8.4 writes by itself (graceful-restart state, ospf6d's sequence numbers, bfdd's
# control socket, the crash-log directories of every daemon and dry run) and the state directory.
HOST_DIRS = ("/run/frr", "/var/lib/frr", "/var/tmp/frr")


def snapshot() -> dict[str, tuple]:
    """Every entry under HOST_DIRS with its type, owner, mode, size and modification time."""
    out: dict[str, tuple] = {}
    for top in HOST_DIRS:
        for root, dirs, files in os.walk(top):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                try:
                    st = os.lstat(name)
                except FileNotFoundError:
                    continue
                size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
                out[name] = (stat.S_IFMT(st.st_mode), st.st_uid, stat.S_IMODE(st.st_mode), size, st.st_mtime_ns)
    return out


def test_ospf_bgp_bfd_lab_leaves_the_hosts_frr_directories_as_they_were(tmp_path):
    needs_root()
    needs_frr()
    name = unique_name("fa-hostdirs")
    # three ASes, OSPF inside one, and BFD: ospfd, ospf6d, bgpd and bfdd all run (and are dry-run first)
    text = BGP.replace("  protocol: bgp\n", "  protocol: bgp\n  bfd: true\n")
    assert "bfd: true" in text
    before = snapshot()
    try:
        res = netemu("up", write(tmp_path, text, name), timeout=180)
        assert res.returncode == 0, res.stdout + res.stderr
        # what users do with a running router talks to the daemons too
        netemu("exec", name, "r2", "--", "vtysh", "-c", "show bfd peers", check=True)
        netemu("status", name, "r3", check=True)
        node = Path(f"/run/netemu/{name}/frr/r3")
        in_lab = sorted(os.listdir(node)) + sorted(os.listdir(node / "tmp")) if (node / "tmp").is_dir() else []
    finally:
        netemu("down", name)
    after = snapshot()
    added = sorted(set(after) - set(before))
    changed = sorted(p for p in before if p in after and before[p] != after[p])
    removed = sorted(set(before) - set(after))
    assert (added, changed, removed) == ([], [], []), "the lab wrote outside its own directory"
    # the files FRR insists on writing were there, in the router's own directory
    assert "ospfd-gr.json" in in_lab and "frr" in in_lab, in_lab
    assert leftovers(name) == [] and lab_processes(name) == []
