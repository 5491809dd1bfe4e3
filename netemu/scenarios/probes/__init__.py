"""Small programs that run inside a node's namespace (`python -m netemu.scenarios.probes.NAME`).

Each prints JSON lines on stdout: servers first print `{"ready": true, "port": N}` once listening,
then one result object; clients print one result object. Every wait is bounded by `--timeout`.
"""
