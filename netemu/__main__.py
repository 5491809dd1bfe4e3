"""`python -m netemu` runs the command line."""

from .entry import main

main()
