"""The derive stage: data netemu computes into the frozen model (addresses, routes, /etc files)."""
