"""The `sae` / `buffer` config sections: schema defaults and the settings dataclasses agree key for key."""

from dataclasses import MISSING, fields
from pathlib import Path

import numpy as np
import pytest
import yaml

from dnalens.buffer.build import BufferSettings
from dnalens.errors import InputError
from dnalens.sae.settings import SaeSettings

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


@pytest.mark.parametrize("section, cls", [("sae", SaeSettings), ("buffer", BufferSettings)])
def test_schema_and_dataclass_agree(section, cls):
    props = yaml.safe_load(SCHEMA.read_text())["properties"][section]["properties"]
    defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
    assert set(props) == set(defaults)
    for key, spec in props.items():
        assert spec["description"] and spec["default"] == defaults[key], key


def test_settings_reject_bad_values_by_name():
    with pytest.raises(InputError, match="sae.architecture"):
        SaeSettings(architecture="gated")
    with pytest.raises(InputError, match="sae.path"):
        SaeSettings(source="load")
    assert SaeSettings(tokens=10_000, batch_size=4096).steps == 3


def test_holdout_is_one_genome_block_on_both_strands():
    from dnalens.formats.window_table import Window
    from dnalens.sae.data import evaluation_windows, holdout_mask

    windows = [
        Window(c, s, s + 100, st, "w") for c, n in (("a", 600), ("b", 400)) for s in range(0, n, 100) for st in "+-"
    ]
    held = holdout_mask(windows, 0.2)  # genome = 1000 bp laid end to end: the last 200 bp are b:200-400
    assert [(w.contig, w.start) for w, h in zip(windows, held) if h] == [("b", 200), ("b", 200), ("b", 300), ("b", 300)]
    tiny = holdout_mask(windows, 0.01)  # less than a window: the last region, both strands
    assert tiny.sum() == 2 and all(windows[i].start == 300 for i in np.flatnonzero(tiny))
    one = [Window("a", 0, 100, "+", "w"), Window("a", 0, 100, "-", "w")]
    mask, held_out = evaluation_windows(holdout_mask(one, 0.1))
    assert mask.all() and not held_out


def test_holdout_blocks_spread_over_the_genome():
    """blocks = 2 on a 1000-bp genome, fraction 0.2: the last 100 bp of each 500-bp slice (a:400-500, b:300-400)."""
    from dnalens.formats.window_table import Window
    from dnalens.sae.data import holdout_mask

    windows = [
        Window(c, s, s + 100, st, "w") for c, n in (("a", 600), ("b", 400)) for s in range(0, n, 100) for st in "+-"
    ]
    held = holdout_mask(windows, 0.2, blocks=2)
    assert [(w.contig, w.start) for w, h in zip(windows, held) if h] == [("a", 400), ("a", 400), ("b", 300), ("b", 300)]
    assert held.sum() == holdout_mask(windows, 0.2).sum()  # same share, other places
