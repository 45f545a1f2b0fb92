"""What a latent does: its ablation's effect on the model's next-nucleotide predictions, against matched controls."""
