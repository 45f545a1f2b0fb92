"""genome stage."""
