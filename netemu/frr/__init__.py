"""FRR routing in router namespaces: OSPF (v2 and v3) and BGP configs derived from the topology."""
