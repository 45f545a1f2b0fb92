"""`dnalens sample-windows` sizes the sample from the `sae:` block as plain values (the sample stage imports no sae
code): the schema's defaults fill what the block leaves out, a bad block is one InputError, and the CLI
writes what `write_sample_bed` writes with those numbers."""

import signal
from pathlib import Path

import pytest
import yaml

from dnalens import cli
from dnalens.errors import InputError
from dnalens.formats.window_table import Window, write_windows_bed
from dnalens.sample.selection import sample_size, write_sample_bed

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def test_sample_size_takes_four_keys_with_the_schema_defaults():
    sae = yaml.safe_load(SCHEMA.read_text())["properties"]["sae"]["properties"]  # read here, not via dnalens
    assert sample_size({"tokens": 900, "seed": 3, "lr": 0.01}) == {
        "tokens": 900,
        "holdout_fraction": sae["holdout_fraction"]["default"],
        "strand_shared": sae["strand_shared"]["default"],
        "seed": 3,
    }
    with pytest.raises(InputError, match="tokenz"):
        sample_size({"tokenz": 900})
    with pytest.raises(InputError, match="holdout_fraction"):
        sample_size({"holdout_fraction": 1.0})


def test_cli_writes_the_sample_write_sample_bed_writes(tmp_path):
    windows = [Window("c", s, s + 50, st, f"w{s}{st}") for s in range(0, 2000, 50) for st in "+-"]
    bed = tmp_path / "windows.bed"
    write_windows_bed(windows, bed)
    previous = signal.getsignal(signal.SIGTERM)  # cli.main installs the pre-emption handler
    try:
        rc = cli.main(
            [
                "sample-windows",
                "--windows",
                str(bed),
                "--model",
                '{"family": "tiny", "trim": 5}',
                "--sae-settings",
                '{"tokens": 1000, "holdout_fraction": 0.2, "strand_shared": true, "seed": 4}',
                "--out",
                str(tmp_path / "cli.bed"),
            ]
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert rc == 0
    summary = write_sample_bed(
        bed,
        tmp_path / "direct.bed",
        trim=(5, 5),  # the tiny model reads both strands (rc_pool auto -> concat): trimmed at both ends
        tokens=1000,
        holdout_fraction=0.2,
        strand_shared=True,
        coverage=0.95,
        seed=4,
    )
    assert summary["needed"] == 625 and 625 <= summary["tokens"] < 625 + 2 * 40  # 500 states / 0.8, 40 kept per window
    assert (tmp_path / "cli.bed").read_bytes() == (tmp_path / "direct.bed").read_bytes()
    assert not summary["whole_genome"]
