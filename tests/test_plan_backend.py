"""`netemu plan` says which link-emulation backend it planned for, and --link-backend chooses it."""

from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import TOPOLOGIES

from netemu.cli import main
from netemu.linkemu import caps


def test_plan_names_the_backend_and_the_option_switches_it(monkeypatch):
    monkeypatch.delenv(caps.BACKEND_ENV, raising=False)
    tfo = str(TOPOLOGIES / "tfo.yaml")
    netem = CliRunner().invoke(main, ["plan", "--full", "--link-backend", "netem", tfo])
    fallback = CliRunner().invoke(main, ["plan", "--full", "--link-backend", "fallback", tfo])
    assert netem.exit_code == 0 and fallback.exit_code == 0, netem.output + fallback.output
    assert "# link emulation: netem (forced by --link-backend" in netem.output
    assert "# link emulation: fallback (forced by --link-backend" in fallback.output
    assert "netem delay" in netem.output and "netem delay" not in fallback.output
    assert "NFQUEUE" not in netem.output and "linkemu-delay" not in netem.output
    assert "linkemu-delay" in fallback.output  # the userspace delay line is started only on the fallback
    data = json.loads(CliRunner().invoke(main, ["plan", "--json", "--link-backend", "fallback", tfo]).output)
    assert data["link_backend"]["name"] == "fallback"


def test_plan_without_impairments_says_nothing_about_a_backend():
    out = CliRunner().invoke(main, ["plan", str(TOPOLOGIES / "minimal.yaml")]).output
    assert "link emulation" not in out


def test_without_root_the_choice_is_explained(monkeypatch, tmp_path):
    monkeypatch.delenv(caps.BACKEND_ENV, raising=False)
    monkeypatch.setattr(caps.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(caps, "CACHE", str(tmp_path / "none.json"))  # no per-boot probe result to read
    monkeypatch.setattr(caps, "_netem_module_present", lambda: False)
    assert caps.backend_choice() == ("fallback", "assumed from the kernel's module list: no netem (not root, not tried)")
    monkeypatch.setattr(caps, "_netem_module_present", lambda: None)
    name, why = caps.backend_choice()
    assert name == "netem" and why.startswith("assumed: not root")
