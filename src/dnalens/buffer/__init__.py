"""buffer stage."""
