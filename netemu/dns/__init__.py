"""netemu's DNS hierarchy: authoritative servers and a recursive resolver, built on dnslib's codec.

Modules: `spec` (the parsed `dns:` section), `parse` (YAML validation), `zonedata` (derived
SOA/NS/glue), `plan` (ops), `feature` (registration), `wire` (message rules shared by both
servers), `zone` (authoritative lookup), `authority` (authoritative responder), `cache`,
`client` (upstream queries), `resolver` (iteration), `server` (the process), `trace`.
"""
