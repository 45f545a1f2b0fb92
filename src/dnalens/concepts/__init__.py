"""concepts stage."""
