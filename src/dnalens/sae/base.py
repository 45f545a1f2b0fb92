"""Sparse autoencoder base: SAELens parameter names and shapes, one encode/decode contract for every type.

Parameters follow SAELens so a saved SAE loads there unchanged: `W_enc` [d_in, d_sae], `b_enc` [d_sae],
`W_dec` [d_sae, d_in], `b_dec` [d_in]. A subclass only says how pre-activations become codes
(`activate`); everything else (input normalisation, decoding, unit-norm decoder upkeep) lives here.

Optional per-context decoder bias (`enable_base_lookup`, after Dooms & Wilhelm's tokenized SAEs): the
centre b_dec becomes b_dec + b_dec_lookup[code of the row's base, or of the w-mer centred on it],
subtracted from the input and added to the reconstruction. Why: a DNA model's activations carry the
local sequence strongly, and without the lookup a TopK dictionary spends latents on base x concept
conjunctions ("codon position 1 on a G") instead of one latent per concept. Such an SAE needs `bases`
(lookup codes, sae.row_bases) in every call.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterable

import torch
from torch import nn

from dnalens.sae.row_bases import N_BASES

# SAELens' `normalize_activations` values. Trained dnalens SAEs fold their input scale into the weights
# before saving, so they always save "none"; the two per-input ones only occur in loaded SAELens SAEs.
NORMALIZATIONS = ("none", "expected_average_only_in", "constant_norm_rescale", "layer_norm")


class SparseAutoencoder(nn.Module):
    """x -> codes f = activate(normalize(x) - b_dec) @ W_enc + b_enc); x_hat = f @ W_dec + b_dec."""

    architecture: ClassVar[str] = "base"
    #: `dnalens train-sae` can train this type (the others are load-only).
    trainable: ClassVar[bool] = False
    #: the constructor needs `k`, so a saved cfg.json must carry it.
    needs_k: ClassVar[bool] = False
    #: whether one row's code depends on the other rows of the input (BatchTopK without a threshold).
    batch_dependent: bool = False

    def __init__(
        self,
        d_in: int,
        d_sae: int,
        *,
        k: int | None = None,
        normalize_activations: str = "none",
        apply_b_dec_to_input: bool = True,
        metadata: dict[str, Any] | None = None,
        dtype: torch.dtype = torch.float32,
        initialize: bool = True,
    ) -> None:
        super().__init__()
        if normalize_activations not in NORMALIZATIONS:
            raise ValueError(f"normalize_activations must be one of {NORMALIZATIONS}")
        self.d_in, self.d_sae, self.k = int(d_in), int(d_sae), k
        self.normalize_activations = normalize_activations
        self.apply_b_dec_to_input = apply_b_dec_to_input
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.W_enc = nn.Parameter(torch.empty(d_in, d_sae, dtype=dtype))
        self.b_enc = nn.Parameter(torch.zeros(d_sae, dtype=dtype))
        self.W_dec = nn.Parameter(torch.empty(d_sae, d_in, dtype=dtype))
        self.b_dec = nn.Parameter(torch.zeros(d_in, dtype=dtype))
        self.register_parameter("b_dec_lookup", None)  # enable_base_lookup() adds it
        self._norm_stats: tuple[torch.Tensor, torch.Tensor] | None = None
        if initialize:  # loaders that replace every tensor skip it (a 512 MB randn is not free)
            self.reset_parameters()

    @torch.no_grad()
    def batch_view(self, pre_chunks: Iterable[torch.Tensor], n_rows: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(latents that fire anywhere in a whole training batch, the value a batch-level code keeps at or
        above or None for row-wise codes), from the batch's micro-batches of pre-activations in one pass. A
        type whose codes depend on the batch in another way raises NotImplementedError, so an out-of-memory
        step of that type fails instead of training a different SAE."""
        if self.batch_dependent:
            raise NotImplementedError(f"{type(self).__name__} has batch-level codes that cannot be split")
        fired = torch.zeros(self.d_sae, dtype=torch.bool, device=self.b_enc.device)
        for pre in pre_chunks:
            fired |= (self.activate(pre) > 0).any(0)
        return fired, None

    def activate_in_batch(self, pre: torch.Tensor, cutoff: torch.Tensor | None) -> torch.Tensor:
        """Codes of one micro-batch, given its whole batch's cut-off (`batch_view`)."""
        return self.activate(pre)

    def after_step(self, smallest_code: torch.Tensor | None) -> None:
        """Training hook, called after each optimizer step with the smallest positive code of the step's batch
        (None when nothing fired; a micro-batched step never holds all codes at once), e.g. to track an
        inference threshold; nothing by default."""

    @classmethod
    def settings_kwargs(cls, settings) -> dict[str, Any]:
        """Constructor arguments of this type taken from `SaeSettings` beyond d_in, d_sae and k."""
        return {}

    # ---- per-w-mer decoder bias --------------------------------------------------------------------
    def enable_base_lookup(self, context: int = 1) -> None:
        """Add b_dec_lookup [5^context, d_in] (zeros: the SAE is unchanged until trained or loaded)."""
        self.b_dec_lookup = nn.Parameter(
            torch.zeros(N_BASES ** int(context), self.d_in, dtype=self.b_dec.dtype, device=self.b_dec.device)
        )

    @property
    def needs_bases(self) -> bool:
        return self.b_dec_lookup is not None

    @property
    def lookup_context(self) -> int:
        """Width of the w-mer the lookup is indexed by (0: no lookup); 5^w rows."""
        if self.b_dec_lookup is None:
            return 0
        rows, width = int(self.b_dec_lookup.shape[0]), 0
        while N_BASES**width < rows:
            width += 1
        if N_BASES**width != rows:
            raise ValueError(f"b_dec_lookup has {rows} rows; expected a power of 5 (5^context)")
        return width

    def centre(self, bases: torch.Tensor | None = None) -> torch.Tensor:
        """b_dec [d_in], or b_dec + b_dec_lookup[bases] [..., d_in] for a lookup SAE."""
        if self.b_dec_lookup is None:
            return self.b_dec
        if bases is None:
            raise ValueError("this SAE has a per-w-mer decoder bias: pass the lookup code of every row (bases=...)")
        return self.b_dec + self.b_dec_lookup[bases.to(self.b_dec_lookup.device, torch.long)]

    # ---- initialisation and decoder upkeep -------------------------------------------------------
    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Random unit-norm decoder rows, encoder = decoder transpose (tied init), zero biases."""
        rows = torch.randn(self.d_sae, self.d_in, generator=generator, dtype=torch.float32)
        rows /= rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
        self.W_dec.copy_(rows.to(self.W_dec.dtype))
        self.W_enc.copy_(rows.T.to(self.W_enc.dtype))
        self.b_enc.zero_()
        self.b_dec.zero_()

    @torch.no_grad()
    def normalize_decoder_(self) -> None:
        """Project decoder rows back onto the unit sphere (after each optimiser step)."""
        self.W_dec /= self.W_dec.norm(dim=1, keepdim=True).clamp_min(1e-12)

    @torch.no_grad()
    def remove_parallel_decoder_grad_(self) -> None:
        """Drop the gradient component along each decoder row; with renormalisation this keeps
        the optimiser moving on the sphere instead of fighting the projection."""
        if self.W_dec.grad is None:
            return
        parallel = (self.W_dec.grad * self.W_dec).sum(dim=1, keepdim=True)
        self.W_dec.grad -= parallel * self.W_dec

    @torch.no_grad()
    def fold_input_scale_(self, scale: float) -> None:
        """Fold `x -> scale * x` (training-time normalisation) into the weights.

        Afterwards encode(x) on raw activations equals the old encode(scale * x), and decode returns
        raw-scale reconstructions; pre-activations, and so thresholds, are unchanged.
        """
        self.W_enc *= scale
        self.W_dec /= scale
        self.b_dec /= scale
        if self.b_dec_lookup is not None:
            self.b_dec_lookup /= scale

    # ---- forward -----------------------------------------------------------------------------------
    def _normalize_in(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize_activations == "constant_norm_rescale":
            coeff = (self.d_in**0.5) / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            self._norm_stats = (torch.zeros_like(coeff), 1.0 / coeff)
            return x * coeff
        if self.normalize_activations == "layer_norm":
            mu = x.mean(dim=-1, keepdim=True)
            std = (x - mu).std(dim=-1, keepdim=True)
            self._norm_stats = (mu, std)
            return (x - mu) / (std + 1e-5)
        return x

    def _normalize_out(self, x_hat: torch.Tensor) -> torch.Tensor:
        """Undo a per-input normalisation using the statistics of the last `encode` call."""
        if self.normalize_activations not in ("constant_norm_rescale", "layer_norm"):
            return x_hat
        if self._norm_stats is None or self._norm_stats[1].shape[:-1] != x_hat.shape[:-1]:
            raise RuntimeError("decode() of a per-input normalised SAE needs the matching encode() first")
        shift, scale = self._norm_stats
        return x_hat * scale + shift

    def pre_activations(self, x: torch.Tensor, bases: torch.Tensor | None = None) -> torch.Tensor:
        x = self._normalize_in(x.to(self.W_enc.dtype))
        if self.apply_b_dec_to_input:
            x = x - self.centre(bases)
        pre = x @ self.W_enc
        # in place when the dtypes agree: the same sums as `pre + b_enc` without a second [n, d_sae] block
        # (a tenth of the fused path's encode time on CPU); mm's backward does not need its output
        return pre.add_(self.b_enc) if pre.dtype == self.b_enc.dtype else pre + self.b_enc

    def activate(self, pre: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, x: torch.Tensor, bases: torch.Tensor | None = None) -> torch.Tensor:
        """Codes [..., d_sae] for activations [..., d_in] (`bases` [...]: only for a lookup SAE)."""
        return self.activate(self.pre_activations(x, bases))

    def decode(self, f: torch.Tensor, bases: torch.Tensor | None = None) -> torch.Tensor:
        """Reconstruction [..., d_in] from codes [..., d_sae]."""
        return self._normalize_out(f.to(self.W_dec.dtype) @ self.W_dec + self.centre(bases))

    def forward(self, x: torch.Tensor, bases: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, bases), bases)

    def training_loss(
        self, codes: torch.Tensor, x: torch.Tensor, bases: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction loss to minimise, full reconstruction): summed squared error per row, averaged.
        Types that train on another objective (Matryoshka's nested prefixes) override this."""
        recon = self.decode(codes, bases)
        return (recon - x).pow(2).sum(-1).mean(), recon

    # ---- persistence hooks (io.py writes SAELens' layout from these) -----------------------------
    def saelens_architecture(self) -> str:
        """The `architecture` written to cfg.json (an inference architecture SAELens can load)."""
        return self.architecture

    def config_fields(self) -> dict[str, Any]:
        """Architecture-specific cfg.json fields (e.g. `k`)."""
        return {} if self.k is None else {"k": self.k}

    def weights_for_saving(self) -> dict[str, torch.Tensor]:
        weights = {
            "W_enc": self.W_enc.detach(),
            "b_enc": self.b_enc.detach(),
            "W_dec": self.W_dec.detach(),
            "b_dec": self.b_dec.detach(),
        }
        if self.b_dec_lookup is not None:  # an extra tensor: SAELens itself would ignore it
            weights["b_dec_lookup"] = self.b_dec_lookup.detach()
        return weights

    @torch.no_grad()
    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Copy SAELens-named tensors in; io.py has already checked names and shapes."""
        for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
            getattr(self, name).copy_(state[name].to(getattr(self, name).dtype))
        if "b_dec_lookup" in state:
            self.b_dec_lookup = nn.Parameter(state["b_dec_lookup"].to(self.b_dec.dtype).clone())
            _ = self.lookup_context  # raises on a row count that is not 5^w

    def extra_repr(self) -> str:
        return f"d_in={self.d_in}, d_sae={self.d_sae}, k={self.k}"
