"""The seams features build on: ordered steps, derived data in the model, registered kinds of operation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from netemu import ops
from netemu.apply import CORE_HANDLERS
from netemu.plan import build
from netemu.parse import topology_from_text

DNS_LAB = Path(__file__).parents[1] / "dns" / "lab.yaml"


def test_feature_op_kinds_register_and_round_trip():
    @ops.register
    @dataclass(frozen=True)
    class DeriveTestOp(ops.Op):
        ns: str
        what: str

        def text(self) -> str:
            return f"test {self.what}"

    try:
        op = DeriveTestOp("ns1", "x")
        assert ops.from_json(op.to_json()) == op
        with pytest.raises(ValueError):
            ops.register(type("DeriveTestOp", (ops.Op,), {}))  # a second kind with the same name
    finally:
        ops.KINDS.pop("DeriveTestOp")


def test_every_core_op_has_a_handler():
    core = {name for name, cls in ops.KINDS.items() if cls.__module__ == "netemu.ops"}
    assert core == {cls.__name__ for cls in CORE_HANDLERS}


def test_dns_resolv_conf_is_derived_into_the_model_not_overwritten_in_the_plan():
    topo = topology_from_text(DNS_LAB.read_text(), "lab.yaml")
    clients = [n for n in topo.nodes if "nameserver" in dict(n.etc).get("resolv.conf", "")]
    others = [n for n in topo.nodes if not n.is_switch and n not in clients]
    assert clients and others
    assert all("no DNS resolver" in dict(n.etc)["resolv.conf"] for n in others)
    writes = [op.path for op in build(topo).ops if isinstance(op, ops.WriteFile)]
    assert len(writes) == len(set(writes))  # each file written once: nothing relies on last-write-wins


def test_feature_steps_run_in_order_and_may_replace_the_model(monkeypatch):
    from netemu import features
    from netemu.features import Feature, Step

    seen = []

    def first(ctx):
        seen.append(("first", len(ctx.topo.node("h1").routes)))
        ctx.set_feature("probe", "derived")

    def second(ctx):
        seen.append(("second", ctx.feature("probe")))

    probe = Feature("probe", top_keys=frozenset({"probe"}),
                    steps=(Step("b", "derive", 20, second), Step("a", "derive", 10, first)))
    real = features.registered
    monkeypatch.setattr(features, "registered", lambda: real() + [probe])
    topo = topology_from_text("name: p\nrouting: static\nprobe: 1\nnodes: {h1: {}, r1: {kind: router}}\n"
                              "links: [{endpoints: [h1, r1]}]\n")
    # the feature ran after the core derived h1's default routes (both families), in its declared order
    assert seen == [("first", 2), ("second", "derived")]
    assert topo.feature("probe") == "derived"
