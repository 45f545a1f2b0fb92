"""sample stage: the SAE-training sample (seeded windows through the window pass into fp16 shards)."""
