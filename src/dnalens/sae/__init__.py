"""sae stage: TopK / BatchTopK / Matryoshka sparse autoencoders, SAELens and Goodfire I/O, training, quality.

`load_sae(path)` is the contract other stages use; torch is imported only when it is called.
"""

from __future__ import annotations

from typing import Any


def load_sae(path, *, k: int | None = None, device: str = "cpu") -> Any:
    """An SAE (torch module with encode/decode) from a SAELens directory or a Goodfire .pt state dict."""
    from dnalens.sae.io import load_sae as _load

    return _load(path, k=k, device=device)


__all__ = ["load_sae"]
