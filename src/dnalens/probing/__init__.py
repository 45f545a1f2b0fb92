"""probing stage."""
