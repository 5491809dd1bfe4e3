"""The only place netemu touches the kernel: namespaces, netlink, processes, files."""

# Runs before any kernel module imports pyroute2's codecs: registers a lazy `pyroute2` package so
# its heavy __init__ (NDB, IPDB, conntrack…, ~80 ms) is skipped on the `up` path.
from . import pyroute2_lazy  # noqa: F401,E402
