"""The built-in scenarios; each is also an example of the scenario API."""
