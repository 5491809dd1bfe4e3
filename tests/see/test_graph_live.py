"""`netemu graph LAB` on a running lab: a link cut and a link impaired at runtime show up (root)."""

from __future__ import annotations

from conftest import netemu, shipped

TFO = "tfo.yaml"  # one link with link emulation (10 ms each way)


def test_live_graph_shows_cut_and_impaired_links(lab_text):
    lab = lab_text(shipped(TFO), prefix="see-g")
    res = netemu("graph", lab, check=True)
    assert 'label="10ms each way"' in res.stdout and "live state of the running lab" in res.stdout
    netemu("link", lab, "client:eth0", "set", "--delay", "30ms", check=True)
    assert 'color="#d97706", label="30ms each way"' in netemu("graph", lab, check=True).stdout
    netemu("link", lab, "client:eth0", "down", check=True)
    res = netemu("graph", lab, "--format", "mermaid", check=True)
    assert "DOWN" in res.stdout and "-.-" in res.stdout
