"""What `netemu up` imports for a plain lab: the heavy optional parts stay out of the start-up path.

Starting Python and importing is a large share of a small lab's `up` (bench/bench_up_down.py); these
tests keep the lazy imports from silently coming back (an import reordering once did).
"""

from __future__ import annotations

import json
import subprocess
import sys

from netemu.linkemu.feature import LINK_KEYS
from netemu.linkemu.model import FIELDS

HEAVY = ("pyroute2.ndb", "pyroute2.ipdb", "pyroute2.iproute", "jinja2", "dnslib", "asyncio", "netemu.dns.parse",
         "netemu.netfilter.parse", "netemu.linkemu.parse", "matplotlib", "netemu.graph")

PLAIN = 'name: plain\nnodes: {a: {}, b: {}}\nlinks: [{endpoints: ["a 10.0.0.1/24", "b 10.0.0.2/24"]}]\n'


def _loaded_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def test_plain_lab_up_path_skips_heavy_modules():
    loaded = _loaded_after(
        "import netemu.cli, netemu.cli.core, netemu.apply\n"
        "from netemu.parse import topology_from_text\n"
        "from netemu.plan import build\n"
        f"build(topology_from_text({PLAIN!r}))\n")
    assert "netemu.kernel.rtnl" in loaded  # the probe really went through the up path
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], f"imported on the up path of a plain lab: {heavy}"


def test_features_load_when_used():
    loaded = _loaded_after(
        "from netemu.parse import topology_from_text\n"
        f"topology_from_text({PLAIN.replace('links: [{', 'links: [{delay: 5ms, ')!r})\n")
    assert "netemu.linkemu.parse" in loaded and "netemu.dns.parse" not in loaded


def test_linkemu_owned_keys_match_its_fields():
    assert LINK_KEYS == frozenset(FIELDS) | {"from"}
