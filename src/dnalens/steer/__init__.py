"""Steered generation: sample from the model with a latent's decoder direction written into its layer, and read
the generated sequences out as biology (`dnalens steer`, results/<genome>/effects/steer.tsv)."""
