"""Try each kernel piece link emulation may use; run inside a throwaway namespace (`unshare --net`).

Prints one JSON object: name -> true, or an error text. Run only through caps.probe(), which
starts it in a fresh anonymous network namespace that disappears when it exits, so nothing is
ever configured in the caller's namespace.
"""

from __future__ import annotations

if __name__ == "__main__" and not __package__:
    import pathlib
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))
    __package__ = "netemu.linkemu"

import json
import os
import shutil
import subprocess
import sys

from netemu.linkemu import timer


def _run(argv: list[str]) -> bool | str:
    if shutil.which(argv[0]) is None:
        return f"{argv[0]} not installed"
    p = subprocess.run(argv, capture_output=True, text=True, check=False)
    if p.returncode == 0:
        return True
    said = (p.stderr or p.stdout).strip()
    return said.splitlines()[-1][:200] if said else f"exit {p.returncode}"


def _qdisc(spec: list[str]) -> bool | str:
    ok = _run(["tc", "qdisc", "add", "dev", "lo", "root", *spec])
    if ok is True:
        _run(["tc", "qdisc", "del", "dev", "lo", "root"])
    return ok


def _nfqueue_bind() -> bool | str:
    from netemu.linkemu import nfq

    try:
        s = nfq.QueueSocket(rcvbuf=1 << 16)
        try:
            s.bind(7)
            s.unbind(7)
        finally:
            s.close()
        return True
    except OSError as e:
        return f"nfnetlink_queue: {e.strerror or e}"


def _realtime() -> bool | str:
    pid = os.fork()
    if pid == 0:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
            os._exit(0)
        except OSError:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return True if os.waitstatus_to_exitcode(status) == 0 else "SCHED_FIFO not permitted"


def probe() -> dict[str, bool | str]:
    """Every probe's result in the current (throwaway) namespace."""
    _run(["ip", "link", "set", "lo", "up"])
    out: dict[str, bool | str] = {
        "netem": _qdisc(["netem", "delay", "1ms"]),
        "tbf": _qdisc(["tbf", "rate", "10mbit", "burst", "5kb", "limit", "20kb"]),
        "htb": _qdisc(["htb", "default", "1"]),
    }
    for fam in ("iptables", "ip6tables"):
        out[f"{fam}_nfqueue"] = _run([fam, "-w", "-t", "raw", "-A", "PREROUTING", "-j", "NFQUEUE",
                                      "--queue-num", "7", "--queue-bypass"])
        out[f"{fam}_statistic"] = _run([fam, "-w", "-t", "raw", "-A", "PREROUTING", "-m", "statistic",
                                        "--mode", "random", "--probability", "0.5", "-j", "DROP"])
        out[f"{fam}_physdev"] = _run([fam, "-w", "-t", "raw", "-A", "PREROUTING", "-m", "physdev",
                                      "--physdev-in", "probe0", "-j", "ACCEPT"])
        _run([fam, "-w", "-t", "raw", "-F"])
    out["iptables_restore"] = True if shutil.which("iptables-restore") else "iptables-restore not installed"
    out["nfqueue_socket"] = _nfqueue_bind()
    out["br_netfilter"] = (True if os.path.exists("/proc/sys/net/bridge/bridge-nf-call-iptables")
                           else "br_netfilter not loaded (modprobe br_netfilter)")
    out["realtime"] = _realtime()
    out["ping"] = True if shutil.which("ping") else "ping not installed"
    # Numbers, not verdicts: what a token bucket's burst must bridge (see timer.py).
    res = timer.resolution_us()
    late = timer.lateness_us()
    out["timer_resolution_us"] = round(res, 3) if res is not None else "no /proc/net/psched"
    out["timer_late_us"] = round(late, 1)
    hz = timer.kernel_hz()
    out["timer_hz"] = hz if hz else "CONFIG_HZ unknown"
    out["timer_us"] = timer.granularity_us(res, late, hz)
    return out


if __name__ == "__main__":
    json.dump(probe(), sys.stdout)
    sys.stdout.write("\n")
