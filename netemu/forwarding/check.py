"""The forwarding check (placeholder)."""

STEPS = ()
