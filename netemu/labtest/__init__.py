"""`netemu test`: lab-wide reachability and the checks a topology declares in `tests:`."""
