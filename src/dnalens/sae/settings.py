"""The `sae` config section as a typed dataclass (keys, defaults and meaning: workflow/schemas, config/README.md)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from dnalens.devices import resolve_device  # noqa: F401  (sae.commands / sae.training import it from here)
from dnalens.errors import InputError
from dnalens.models.base import resolve_strand_shared
from dnalens.settings import schema_choices, schema_defaults

# allowed values come from the schema's enums (sae.registry.TRAINABLE must equal the architecture enum:
# tests/sae/test_architectures.py)
ARCHITECTURES, SOURCES, SCOPES, NORMALIZE, INIT_B_DEC = (
    schema_choices("sae", key) for key in ("architecture", "source", "scope", "normalize", "init_b_dec")
)


_DEFAULTS = schema_defaults("sae")  # every default: workflow/schemas/config.schema.yaml


@dataclass(frozen=True)
class SaeSettings:
    source: str = _DEFAULTS["source"]
    scope: str = _DEFAULTS["scope"]  # shared: one dictionary for all genomes of a run; genome: one per genome
    path: str | None = _DEFAULTS["path"]
    layer: str | None = _DEFAULTS["layer"]
    architecture: str = _DEFAULTS["architecture"]
    expansion: int = _DEFAULTS["expansion"]
    k: int = _DEFAULTS["k"]
    lr: float = _DEFAULTS["lr"]
    tokens: int = _DEFAULTS["tokens"]
    batch_size: int = _DEFAULTS["batch_size"]
    seed: int = _DEFAULTS["seed"]
    aux_k: int | None = _DEFAULTS["aux_k"]
    matryoshka_widths: tuple[int, ...] | None = _DEFAULTS["matryoshka_widths"]
    base_lookup: int = _DEFAULTS["base_lookup"]  # 0: none; w (odd): a decoder bias per centred w-mer (1: per base)
    # one per-strand SAE over both halves of rc_pool=concat rows; "auto" = exactly when the rows are concat
    # (resolve_strand_shared; the Snakefile resolves it for the whole run, `dnalens train-sae` from the sample)
    strand_shared: bool | str = _DEFAULTS["strand_shared"]
    aux_k_coef: float = _DEFAULTS["aux_k_coef"]
    dead_after_tokens: int = _DEFAULTS["dead_after_tokens"]
    normalize: str = _DEFAULTS["normalize"]
    init_b_dec: str = _DEFAULTS["init_b_dec"]
    holdout_fraction: float = _DEFAULTS["holdout_fraction"]
    holdout_blocks: int = _DEFAULTS["holdout_blocks"]
    checkpoint_every: int = _DEFAULTS["checkpoint_every"]
    device: str = _DEFAULTS["device"]
    quality_tokens: int = _DEFAULTS["quality_tokens"]
    loss_windows: int = _DEFAULTS["loss_windows"]
    replicate: bool = _DEFAULTS["replicate"]  # also train seed + 1 on the same data (seed agreement)
    min_ablation_gap: float | None = _DEFAULTS["min_ablation_gap"]  # nats/token; below it loss recovered is null

    def __post_init__(self) -> None:
        choices = {
            "source": SOURCES,
            "scope": SCOPES,
            "architecture": ARCHITECTURES,
            "normalize": NORMALIZE,
            "init_b_dec": INIT_B_DEC,
        }
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise InputError(f"sae.{key} is {getattr(self, key)!r}.", fix=f"use one of {', '.join(allowed)}.")
        for key in ("expansion", "k", "tokens", "batch_size", "checkpoint_every"):
            if int(getattr(self, key)) < 1:
                raise InputError(f"sae.{key} must be >= 1, found {getattr(self, key)}.")
        if self.matryoshka_widths is not None:
            widths = [int(w) for w in self.matryoshka_widths]
            if not widths or widths[0] < 1 or any(b <= a for a, b in zip(widths, widths[1:])):
                raise InputError(
                    f"sae.matryoshka_widths must be increasing positive latent counts, found {widths}.",
                    fix="e.g. [64, 256, 1024]; the whole dictionary is always the last prefix.",
                )
            object.__setattr__(self, "matryoshka_widths", tuple(widths))
        if isinstance(self.base_lookup, bool) or self.base_lookup not in (0, 1, 3, 5, 7):
            raise InputError(
                f"sae.base_lookup must be 0 (off) or an odd w-mer width 1-7, found {self.base_lookup!r}.",
                fix="use 1 for a bias per base, 3 for one per centred trinucleotide.",
            )
        if not isinstance(self.replicate, bool):
            raise InputError(f"sae.replicate must be true or false, found {self.replicate!r}.")
        if not isinstance(self.strand_shared, bool) and self.strand_shared != "auto":
            raise InputError(f"sae.strand_shared must be true, false or auto, found {self.strand_shared!r}.")
        if self.min_ablation_gap is not None and not self.min_ablation_gap >= 0.0:
            raise InputError(f"sae.min_ablation_gap must be >= 0 (nats/token), found {self.min_ablation_gap}.")
        if self.holdout_blocks < 1:
            raise InputError(f"sae.holdout_blocks must be >= 1, found {self.holdout_blocks}.")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise InputError(f"sae.holdout_fraction must be in [0, 1), found {self.holdout_fraction}.")
        if self.source == "load" and not self.path:
            raise InputError(
                "sae.source is 'load' but sae.path is not set.",
                fix="set sae.path to a SAELens directory or a Goodfire .pt file.",
            )

    def with_rc_pool(self, rc_pool: str | None) -> "SaeSettings":
        """These settings with `strand_shared: auto` decided for rows pooled by `rc_pool`."""
        return replace(self, strand_shared=resolve_strand_shared(self.strand_shared, rc_pool))

    @property
    def steps(self) -> int:
        return -(-int(self.tokens) // int(self.batch_size))

    @property
    def rows_per_batch(self) -> int:
        """Activation rows per training step: with strand_shared each row is two per-strand states, and
        `tokens` and `batch_size` count states."""
        return max(1, int(self.batch_size) // 2) if self.shares_strands else int(self.batch_size)

    @property
    def shares_strands(self) -> bool:
        """Whether training reads concat rows as two strand states: only `true`. An unresolved `auto` reads rows
        as they come (the workflow and `dnalens train-sae` decide auto from the rows' rc_pool first)."""
        return self.strand_shared is True
