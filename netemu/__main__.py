"""`python -m netemu` runs the command line."""

from .cli import main

main()
