"""Variants: a VCF -> consequence, Δ log-likelihood on both strands and SAE latent changes per variant x alt."""
