"""models stage: adapters (`load_model`), the tiny Evo 2-style model, training and evaluation.

Importing this package does not import torch (adapters import it when built).
"""

from dnalens.models.base import REGISTRY, ModelSpec, load_model

__all__ = ["REGISTRY", "ModelSpec", "load_model"]
