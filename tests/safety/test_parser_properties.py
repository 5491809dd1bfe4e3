"""Property tests of the topology parser (Hypothesis): for any document, `validate` either accepts it
or raises the typed TopologyError — never anything else — within a time bound."""

from __future__ import annotations

import time

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netemu.errors import TopologyError
from netemu.model import Topology
from netemu.parse import topology_from_text
from netemu.source import read_text

BOUND = 5.0  # seconds for one document (generated ones are small; the bound catches blow-ups)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# The words a topology uses, so generated documents reach deep into the parser, not just its first check.
KEYS = ["name", "nodes", "links", "kind", "routes", "sysctls", "endpoints", "mtu", "neighbours", "routing",
        "protocol", "delay", "bandwidth", "loss", "nat", "firewall", "dns", "zones", "services", "cost", "as"]
WORDS = ["host", "router", "switch", "h1", "r1", "s1", "default via 10.0.0.1", "10.0.0.1/24", "h1:eth0 10.0.0.1/24",
         "2001:db8::1/64", "10ms", "1mbit", "net.ipv4.ip_forward", "..", "all", "default", "static", "ospf", "*"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
                    st.floats(allow_nan=True), st.sampled_from(WORDS), st.text(max_size=20))
keys = st.one_of(st.sampled_from(KEYS + WORDS), st.text(max_size=10), st.integers(-5, 5))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                          st.dictionaries(keys, inner, max_size=5)), max_leaves=40)
topologies = st.fixed_dictionaries({"name": st.one_of(st.sampled_from(["safety-p", "..", "a/b", ""]), scalars),
                                    "nodes": documents, "links": documents}, optional={"routing": documents})


def _accepts_or_refuses(text: str) -> None:
    started = time.monotonic()
    try:
        topo = topology_from_text(text, "gen.yaml")
    except TopologyError as e:
        assert e.issues, "a TopologyError names at least one problem"
        assert all(len(i.render("gen.yaml")) < 2000 for i in e.issues)
    else:
        assert isinstance(topo, Topology)
    assert time.monotonic() - started < BOUND


@SETTINGS
@given(topologies)
def test_any_structured_document_is_accepted_or_refused_with_a_typed_error(doc):
    _accepts_or_refuses(yaml.safe_dump(doc, allow_unicode=True))


@SETTINGS
@given(st.text(max_size=300))
def test_any_text_is_accepted_or_refused_with_a_typed_error(text):
    _accepts_or_refuses(text)


@SETTINGS
@given(st.lists(st.sampled_from(["name: safety-p\n", "nodes:\n", "  h1: {}\n", "  r1: {kind: router}\n", "links:\n",
                                 "  - endpoints: [h1, r1]\n", "- &a [*a]\n", "&x ", "*x", "? [a]\n: b\n", "\t",
                                 "!!python/object:os.system x\n", "<<: *x\n", "'", "{", "]", "\x85", "\ufeff", "\x00"]),
                max_size=30))
def test_yaml_fragments_are_accepted_or_refused_with_a_typed_error(parts):
    _accepts_or_refuses("".join(parts))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_in_a_file_are_accepted_or_refused_with_a_typed_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("gen") / "t.yaml"
    path.write_bytes(data)
    try:
        text = read_text(path)
    except TopologyError as e:
        assert "is not UTF-8 text" in str(e)
        return
    _accepts_or_refuses(text)
