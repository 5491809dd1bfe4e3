"""The `dns:` section: every validation error with its line, derived zones, and the plan."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from netemu.errors import TopologyError
from netemu.ops import StartProcess
from netemu.parse import topology_from_text
from netemu.plan import build as build_plan

LAB = (Path(__file__).parent / "lab.yaml").read_text()

BASE = """name: p
nodes:
  lan: {kind: switch}
  root: {}
  bob: {}
  res: {}
  alice: {resolver: res}
  lonely: {}
links:
  - endpoints: ["root:eth0 10.0.0.2/24", lan]
  - endpoints: ["bob:eth0 10.0.0.5/24", lan]
  - endpoints: ["res:eth0 10.0.0.53/24", lan]
  - endpoints: ["alice:eth0 10.0.0.100/24", lan]
"""


def errors(dns_yaml: str, base: str = BASE) -> list[str]:
    with pytest.raises(TopologyError) as e:
        topology_from_text(base + dns_yaml, "t.yaml")
    return [i.render("t.yaml") for i in e.value.issues]


def test_shipped_test_lab_is_valid_and_derives_delegations_and_glue():
    topo = topology_from_text(LAB, "lab.yaml")
    from netemu.dns.zonedata import build

    zones = build(topo.feature("dns"))
    assert "com. 3600 IN NS ns1.com." in zones["."] and "ns1.com. 3600 IN A 10.53.0.4" in zones["."]
    assert "bob.com. 300 IN NS ns2.bob.com." in zones["com."] and "ns2.bob.com. 300 IN A 10.53.0.7" in zones["com."]
    assert zones["bob.com."][0] == "bob.com. 300 IN SOA ns1.bob.com. hostmaster.bob.com. 1 3600 600 86400 300"
    assert "a.root-servers.net. 3600 IN A 10.53.0.2" in zones["."]


def test_plan_writes_configs_resolv_conf_and_starts_one_process_per_dns_node():
    topo = topology_from_text(LAB.replace("name: dnslab", "name: plantest"), "lab.yaml")
    plan = build_plan(topo)
    ops = plan.ops
    starts = [op for op in ops if isinstance(op, StartProcess)]
    assert [op.name for op in starts] == ["dns-root-a", "dns-root-b", "dns-tld-com", "dns-tld-org", "dns-bob-dns",
                                          "dns-bob-dns2", "dns-isp-dns"]
    assert starts[0].argv[:3] == (sys.executable, "-m", "netemu.dns.server") and starts[0].ns == "plantest-root-a"
    assert "nameserver 10.53.0.53" in plan.netns_file("/etc/netns/plantest-alice/resolv.conf")
    assert "nameserver 10.53.0.53" in plan.netns_file("/etc/netns/plantest-isp-dns/resolv.conf")
    assert "nameserver" not in plan.netns_file("/etc/netns/plantest-root-a/resolv.conf")  # the core's default stays


def test_errors_have_lines_and_hints():
    text = """dns:
  zones:
    .:
      servers: [root]
    bob.com.:
      servers: [bob]
      ttl: -5
      records:
        - www.example.org. A 1.2.3.4
        - alias CNAME www
        - alias A 1.2.3.4
        - www A 300.1.1.1
        - www 99999999999 A 1.2.3.4
        - www SPF "x"
        - sub.shop A 1.2.3.4
        - "@ NS ns9.bob.com."
    shop.bob.com.:
      servers: []
    org.:
      servers: [lonely, nobody, lan]
  resolvers: [res, bob]
"""
    hint = "(hint: write 'OWNER [TTL] TYPE DATA', e.g. 'www A 203.0.113.10' or '@ MX 10 mail')"
    z = "dns.zones['bob.com.']"
    assert errors(text) == [
        f"t.yaml:19: {z}.servers[0]: bob is a resolver; a node is either a resolver or an authoritative server "
        "(hint: both would listen on port 53 of the same addresses)",
        f"t.yaml:20: {z}.ttl: TTL must be a whole number of seconds 0..2147483647, got -5",
        f"t.yaml:22: {z}.records[0]: www.example.org. is outside zone bob.com. "
        "(hint: use a name relative to the zone (www) or one ending in the zone's name)",
        f"t.yaml:24: {z}.records[2]: duplicate owner alias.bob.com.: a CNAME owner can have no other record "
        "(hint: see line 23)",
        f"t.yaml:25: {z}.records[3]: cannot read A data '300.1.1.1': Attribute 'data' elements must be between "
        f"0-255 [(300, 1, 1, 1)] {hint}",
        f"t.yaml:26: {z}.records[4]: TTL 99999999999 out of range 0..2147483647",
        f"t.yaml:27: {z}.records[5]: unsupported record type 'SPF' "
        f"(hint: use one of A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, PTR, CAA; {hint[7:]}",
        f"t.yaml:28: {z}.records[6]: sub.shop.bob.com. belongs to zone shop.bob.com., delegated from bob.com. "
        "(hint: put the record under zones.'shop.bob.com.')",
        f"t.yaml:29: {z}.records[7]: the apex NS records come from 'servers:' "
        "(hint: list the server nodes there instead)",
        "t.yaml:31: dns.zones['shop.bob.com.'].servers: zone shop.bob.com. has no server "
        "(hint: add 'servers: [NODE]' naming the node(s) that serve it)",
        "t.yaml:33: dns.zones['org.'].servers[0]: server node lonely has no address "
        "(hint: give it an address on a link)",
        "t.yaml:33: dns.zones['org.'].servers[1]: unknown node 'nobody' as DNS server",
        "t.yaml:33: dns.zones['org.'].servers[2]: lan is a switch; a DNS server must be a host or router with an "
        "address",
    ]


def test_resolver_references_and_root_requirement():
    found = "\n".join(errors("""dns:
  resolvers: [res]
""", BASE.replace("alice: {resolver: res}", "alice: {resolver: [bob, 10.0.0.53, nope]}")))
    assert "t.yaml:7: nodes.alice.resolver[0]: bob is not a resolver" in found
    assert "nodes.alice.resolver[2]: 'nope' is neither a resolver node nor an IP address" in found
    assert "dns.resolvers: resolvers start from the root: define the zone '.' with its servers" in found


def test_duplicate_zone_and_bad_names():
    found = "\n".join(errors("""dns:
  zones:
    com: {servers: [root]}
    COM.: {servers: [root]}
    "bad_zone!": {servers: [root]}
    .: {servers: [root], records: ["@ CNAME x."]}
"""))
    assert "t.yaml:17: dns.zones['COM.']: zone com. is defined twice (also as 'com')" in found
    assert "'bad_zone!' is not a valid zone name" in found
    assert "cannot be a CNAME" in found
