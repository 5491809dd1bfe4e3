"""Forwarding over the model alone: the one route lookup, path walking and the validate-time check."""
