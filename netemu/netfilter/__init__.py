"""NAT and firewalls for netemu nodes: the `nat:` and `firewall:` node keys.

Pipeline: `parse` (validate YAML → NetfilterModel) → `rules.build` (tables of rules, pure data)
→ `render` (jinja2 → iptables-restore input) → `feature.plan` (one RunCommand per node and family).
`status.node_report` reads a live node back: rules with counters and conntrack translations.
"""
