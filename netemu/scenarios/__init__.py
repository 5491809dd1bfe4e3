"""Measurement scenarios: protocol folklore turned into numbers measured on the real kernel.

A scenario declares a default topology and roles, checks its requirements against the model
before anything is touched, then measures through a `Context` (node handles, cases, records,
checks, tables, pictures). `run()` brings the lab up, undoes every change, tears down and writes
the report. The built-ins (pmtud, nagle, tfo, failover) use exactly this API.

    from netemu.scenarios import Scenario, Context

    class Ping(Scenario):
        name = "ping"
        description = "round-trip time client -> server"
        topology = "nagle.yaml"
        roles = {"client": "client", "server": "server"}

        def run(self, ctx: Context) -> None:
            client, server = ctx.node("client"), ctx.node("server")
            with ctx.case("ping") as case:
                out = client.run(["ping", "-c", "5", "-i", "0.2", str(server.address())]).stdout
                ...
"""

from .api import Case, Check, Context, RequirementError, Result, Scenario, Setup
from .nodes import Background, Capture, ProbeError, ScenarioNode
from .paths import Hop, Path, PathError
from .registry import builtin_names, describe_builtins, load
from .runner import RunOptions, run

__all__ = [
    "Background", "Capture", "Case", "Check", "Context", "Hop", "Path", "PathError", "ProbeError",
    "RequirementError", "Result", "RunOptions", "Scenario", "ScenarioNode", "Setup", "builtin_names",
    "describe_builtins", "load", "run",
]
