"""buffer stage: codes + the label store -> an ActivationBuffer (its format: dnalens.formats.buffer)."""
