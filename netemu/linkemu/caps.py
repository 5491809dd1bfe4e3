"""What this machine can do for link emulation, found by trying it in a throwaway namespace.

The probe runs `unshare --net` on probe.py: the namespace is anonymous and vanishes with the
process, so the caller's (host's) namespace is never touched. Results are cached per boot in
/run/netemu/.cache/linkemu-caps.json (removed with the last lab); `netemu doctor` always probes afresh.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingFeatureError
from ..labdir import CACHE_DIR
from . import timer
from .state import write_atomic

CACHE = str(CACHE_DIR / "linkemu-caps.json")
PROBE = str(Path(__file__).with_name("probe.py"))
BACKEND_ENV = "NETEMU_LINKEMU_BACKEND"  # 'netem' or 'fallback': force a backend (tests, plans without root)
TIMER_ENV = "NETEMU_LINKEMU_TIMER_US"  # force the timer granularity rate limits are sized for (golden tests)


@dataclass(frozen=True)
class Caps:
    """Raw probe results: name -> True or the reason it failed."""

    results: dict

    def ok(self, name: str) -> bool:
        """Whether probe `name` succeeded."""
        return self.results.get(name) is True

    def why(self, *names: str) -> str:
        """The failure reason of the first of probes `names` that failed ('' if all succeeded)."""
        for name in names:
            r = self.results.get(name, "not probed")
            if r is not True:
                return str(r)
        return ""

    @property
    def netem(self) -> bool:
        """The kernel has the netem qdisc."""
        return self.ok("netem")

    @property
    def rate(self) -> bool:
        """Rate limiting with TBF works."""
        return self.ok("tbf")

    @property
    def delay_line(self) -> bool:
        """The NFQUEUE fallback can hold IPv4 packets."""
        return self.ok("iptables_nfqueue") and self.ok("nfqueue_socket") and self.ok("iptables_restore")

    @property
    def delay_line6(self) -> bool:
        """The NFQUEUE fallback can hold IPv6 packets too."""
        return self.delay_line and self.ok("ip6tables_nfqueue")

    @property
    def random_drop(self) -> bool:
        """iptables can drop at random (loss without netem)."""
        return self.ok("iptables_statistic") and self.ok("iptables_restore")

    @property
    def bridge_hook(self) -> bool:
        """Bridged packets entering a switch port can be matched by iptables (br_netfilter + physdev)."""
        return self.ok("br_netfilter") and self.ok("iptables_physdev")

    @property
    def timer_us(self) -> int:
        """Timer granularity plus measured lateness, in µs: what a rate limit's burst must cover."""
        v = self.results.get("timer_us")
        return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else timer.DEFAULT_US

    @property
    def realtime(self) -> bool:
        """The delay line may run SCHED_FIFO."""
        return self.ok("realtime")


def _boot_key() -> str:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = "?"
    return f"{boot}/{os.uname().release}"


def probe(fresh: bool = False) -> Caps:
    """Probe this machine (root needed), from the per-boot cache unless `fresh`."""
    key = _boot_key()
    if not fresh:
        try:
            cached = json.loads(Path(CACHE).read_text())
            if cached.get("key") == key:
                return Caps(cached["results"])
        except (OSError, ValueError, KeyError):
            pass
    if os.geteuid() != 0:
        raise MissingFeatureError("probing link emulation needs root (it tries qdiscs in a throwaway namespace)")
    p = subprocess.run(["unshare", "--net", "--", sys.executable, PROBE], capture_output=True, text=True,
                       timeout=60, check=False)
    if p.returncode != 0:
        raise MissingFeatureError(f"link-emulation probe failed: {p.stderr.strip()[-300:]}")
    results = json.loads(p.stdout)
    try:
        os.makedirs(os.path.dirname(CACHE), exist_ok=True)
        write_atomic(CACHE, json.dumps({"key": key, "results": results}))
    except OSError:
        pass
    return Caps(results)


def backend(caps: Caps | None = None) -> str:
    """'netem' where the kernel has it, else 'fallback' (NFQUEUE delay line, iptables loss)."""
    return backend_choice(caps)[0]


def backend_choice(caps: Caps | None = None) -> tuple[str, str]:
    """The backend and how it was chosen: forced (NETEMU_LINKEMU_BACKEND), probed, or assumed.

    Without root (e.g. `netemu plan` as a user) the kernel cannot be tried; the per-boot probe result is
    used when a root run left it, else the kernel's module list says whether netem is there at all.
    """
    forced = os.environ.get(BACKEND_ENV)
    if forced in ("netem", "fallback"):
        return forced, f"forced by --link-backend or {BACKEND_ENV}"
    if caps is None and os.geteuid() != 0:
        try:
            caps = probe()  # the per-boot cache only: probing itself needs root
        except MissingFeatureError:
            has = _netem_module_present()
            if has is None:
                return "netem", "assumed: not root, so the kernel could not be probed (choose with --link-backend)"
            return ("netem", "assumed from the kernel's module list: netem is there (not root, not tried)") if has \
                else ("fallback", "assumed from the kernel's module list: no netem (not root, not tried)")
    if caps is None:
        caps = probe()
    return ("netem", "probed: this kernel has netem") if caps.netem \
        else ("fallback", f"probed: this kernel has no netem ({caps.why('netem')})")


def _netem_module_present() -> bool | None:
    """Whether this kernel ships netem (built in or as a module file), or None when that cannot be read."""
    base = Path("/lib/modules") / os.uname().release
    try:
        if "sch_netem" in (base / "modules.builtin").read_text():
            return True
        return "sch_netem" in (base / "modules.dep").read_text()
    except OSError:
        return None


def timer_us(caps: Caps | None = None) -> int:
    """The timer granularity (µs) to size rate limits' bursts for: measured by the probe.

    Without root nothing can be probed: assume timer.DEFAULT_US. NETEMU_LINKEMU_TIMER_US forces it.
    """
    forced = os.environ.get(TIMER_ENV)
    if forced and forced.isdigit() and int(forced) > 0:
        return int(forced)
    if caps is None:
        if os.geteuid() != 0:
            return timer.DEFAULT_US
        caps = probe()
    return caps.timer_us
