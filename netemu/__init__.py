"""netemu: a real emulated internet on one Linux machine, from a YAML topology."""

__version__ = "0.1.0"
