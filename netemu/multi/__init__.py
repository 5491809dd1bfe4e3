"""One lab across several machines: inventory, placement, per-machine plans, VXLAN links, SSH fan-out.

Opt-in by `--hosts INVENTORY` only; without it nothing here runs.
"""
