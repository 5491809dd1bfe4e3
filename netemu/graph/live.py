"""The live state of a running lab for its picture, read as `netemu status` reads it (needs root)."""

from __future__ import annotations

from .. import status as status_mod


def read(lab: str) -> dict:
    """{"interfaces": {(node, ifname): "UP"|"NO-CARRIER"|"DOWN"}, "links": {index: {"admin", "impairment"}}}.

    Interface states come from the kernel (status.lab); impairments and cut links from link
    emulation's runtime state, when the lab uses it.
    """
    data = status_mod.lab(lab)
    interfaces = {(n["node"], i["name"]): i["state"] for n in data["nodes"] if not n.get("missing")
                  for i in n["interfaces"]}
    links: dict[int, dict] = {}
    emu = data["features"].get("linkemu") or {}
    for link in emu.get("links", []):
        dirs = link["directions"]
        texts = [d["impairment"] for d in dirs]
        if texts[0] == texts[1]:
            text = "" if texts[0] == "none" else f"{texts[0]} each way"
        else:
            text = "; ".join(f"{d['from'].split(':')[0]}→{d['to'].split(':')[0]} {d['impairment']}" for d in dirs)
        links[link["link"]] = {"admin": link["admin"], "impairment": text}
    return {"interfaces": interfaces, "links": links}
