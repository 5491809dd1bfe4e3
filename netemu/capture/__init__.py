"""Packet capture inside a node: `netemu capture` and the topology's `capture:` keys."""
