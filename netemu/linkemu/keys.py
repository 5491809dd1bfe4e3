"""The topology keys the link-emulation feature owns (no imports: every parse reads them)."""

# linkemu.model.FIELDS plus `from:`; a unit test keeps them equal.
LINK_KEYS = frozenset({"bandwidth", "delay", "jitter", "loss", "queue", "from"})
