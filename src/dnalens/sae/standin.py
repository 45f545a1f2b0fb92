"""`dnalens standin-sae`: a seeded random SAE in Goodfire's Evo 2 `.pt` shape, for the Evo 2-width rehearsal.

Why: Goodfire's SAE (`sae-layer26-mixed-expansion_8-k_64.pt`, W [4096, 32768], b_enc, b_dec) is not
reachable offline and is 512 MB; the rehearsal (config/genomes/evo2_rehearsal.yaml) writes one of the same
shape into results/ at run time (rule standin_sae) and loads it through the real Goodfire loader
(`dnalens.sae.io.load_goodfire`: k from the file name). The file name says the shape as Goodfire's does:
`expansion_<n>` gives d_sae = n x d_in, `k_<n>` the BatchTopK k; d_in is the model's width at the layer.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from dnalens.errors import InputError

_EXPANSION_IN_NAME = re.compile(r"(?:^|[-_.])expansion[-_]?(\d+)(?=$|[-_.])")


def expansion_from_filename(path: str | Path) -> int:
    """`sae-layer2-mixed-expansion_8-k_64.pt` -> 8 (the name is the only place the shape is said)."""
    match = _EXPANSION_IN_NAME.search(Path(path).stem)
    if not match or int(match.group(1)) < 1:
        raise InputError(
            "the stand-in SAE's file name must say its expansion (e.g. `...-expansion_8-k_64.pt`).",
            path=path,
            fix="name sae.path like Goodfire's file: sae-layerN-mixed-expansion_8-k_64.pt.",
        )
    return int(match.group(1))


def goodfire_shaped_state(d_in: int, d_sae: int, seed: int = 0) -> dict:
    """{W [d_in, d_sae], b_enc [d_sae], b_dec [d_in]} float32, seeded: W ~ N(0, 1/d_in) (unit-norm-ish
    columns, so pre-activations scale like the input), small biases."""
    import torch

    gen = torch.Generator().manual_seed(int(seed))
    W = torch.randn(d_in, d_sae, generator=gen).mul_(d_in**-0.5)
    b_enc = torch.randn(d_sae, generator=gen).mul_(0.01)
    b_dec = torch.randn(d_in, generator=gen).mul_(0.01)
    return {"W": W, "b_enc": b_enc, "b_dec": b_dec}


def write_standin_sae(path: str | Path, d_in: int, seed: int = 0) -> dict:
    """Write the Goodfire-shaped state dict to `path` (atomically); returns its shape facts."""
    import torch

    from dnalens.atomic import atomic_path
    from dnalens.sae.io import k_from_filename

    path = Path(path)
    if path.suffix not in {".pt", ".pth"} or k_from_filename(path) is None:
        raise InputError("the stand-in SAE's file name must end in .pt and say k (e.g. `..._k_64.pt`).", path=path)
    d_sae = expansion_from_filename(path) * int(d_in)
    state = goodfire_shaped_state(int(d_in), d_sae, seed)
    nbytes = sum(t.numel() * t.element_size() for t in state.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, nbytes) as tmp:
        torch.save(state, tmp)
    return {"path": str(path), "d_in": int(d_in), "d_sae": d_sae, "k": k_from_filename(path), "bytes": nbytes}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("standin-sae", help="write a seeded random Goodfire-shaped SAE .pt (rehearsal only)")
    p.add_argument("--model", required=True, help="the config's `model:` block as JSON (gives d_in at --layer)")
    p.add_argument("--layer", required=True, help="module path the SAE reads (its width is d_in)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    p.add_argument("--out", required=True, help="file to write, named like Goodfire's (...-expansion_8-k_64.pt)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from dnalens.models.base import load_model
    from dnalens.settings import parse_settings

    adapter = load_model(parse_settings(args.model))
    print(json.dumps(write_standin_sae(args.out, adapter.d_model(args.layer), args.seed)))
    return 0
