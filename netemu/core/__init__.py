"""The core topology keys (name, nodes, links, routes, routing, defaults) read into the model."""
