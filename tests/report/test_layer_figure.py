"""The layer scan in report.html: the figure and its sentence with a scan, no section and no error without one;
the colour rule by hand; the table's file round trip and a table missing a column."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from dnalens.errors import InputError
from dnalens.formats.layer_scan import read_layer_scan, write_layer_scan
from dnalens.report.layer_figure import MIN_SPAN, layer_scan_svg, row_shades
from dnalens.report.options import ReportSettings
from dnalens.report.stage import run_report

from . import mini_genome


def scan_table() -> pd.DataFrame:
    """Three layers × (two binary concepts + codon position); the rule's layer is blocks.2."""
    rows = []
    for i, layer in enumerate(("blocks.0", "blocks.1", "blocks.2")):
        for concept, cv, test in (("CDS", 0.70 + 0.1 * i, 0.71 + 0.1 * i), ("gene", 0.65, 0.66 + 0.01 * i)):
            rows.append(dict(layer=layer, layer_index=i, concept=concept, kind="binary", auroc_train_cv=cv,
                             auroc_test=test, chance=0.5, n_train=800, n_test=200))  # fmt: skip
        rows.append(dict(layer=layer, layer_index=i, concept="codon_position", kind="categorical", auroc_train_cv=np.nan,
                         auroc_test=np.nan, balanced_accuracy_train_cv=0.5, balanced_accuracy_test=0.4 + 0.2 * i,
                         chance=1 / 3, n_train=300, n_test=80))  # fmt: skip
    table = pd.DataFrame(rows)
    means = table[table["kind"] == "binary"].groupby("layer")["auroc_train_cv"].mean()
    return table.assign(layer_mean_auroc_train_cv=table["layer"].map(means), chosen=table["layer"] == "blocks.2")


def test_row_shades_by_hand():
    np.testing.assert_allclose(row_shades(np.array([0.6, 0.8, 0.7])), [0.0, 1.0, 0.5])
    # a row spanning less than MIN_SPAN stays near its top colour instead of stretching noise over the scale
    np.testing.assert_allclose(row_shades(np.array([0.99, 1.0])), [1 - 0.01 / MIN_SPAN, 1.0])
    shades = row_shades(np.array([np.nan, 0.5]))
    assert np.isnan(shades[0]) and shades[1] == 1.0


def test_figure_marks_the_rules_layer_and_the_saes_layer():
    svg = layer_scan_svg(scan_table(), "blocks.1")
    root = ET.fromstring(svg)
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "blocks.2 ★" in texts and "blocks.1 SAE" in texts and "blocks.0" in texts
    assert texts.count("codon_position") == 1 and "0.800" in texts  # balanced accuracy at blocks.2
    assert "0.725" in texts  # the rule's row at blocks.1: (0.8 + 0.65) / 2
    assert "the layer the SAE reads" in svg


def _report(tmp_path, scan):
    root = tmp_path / "mini"
    root.mkdir()
    (root / "genome.fa").write_text(">chr1\n" + mini_genome.SEQ + "\n")
    inputs = mini_genome.inputs(root)
    inputs.layer = "blocks.1"
    inputs.layer_scan = scan
    run_report(inputs, ReportSettings(sequence_flank=40), root)
    return (root / "report.html").read_text()


def test_report_with_the_scan_shows_the_figure_and_lists_the_table(tmp_path):
    html = _report(tmp_path, scan_table())
    section = html[html.index('<section id="layers">') : html.index('<section id="summary">')]
    sentence = "The layer rule picks blocks.2 (mean cross-fitted train AUROC 0.775); the SAE reads blocks.1 (0.725)."
    assert sentence in section
    assert "800 train-block and 200 held-out tokens" in section
    (svg,) = re.findall(r"<svg .*?</svg>", section, flags=re.S)
    ET.fromstring(svg)
    assert '<a href="layer_scan.tsv">layer_scan.tsv</a>' in html
    assert (
        html.index("Is the SAE a usable dictionary?") < html.index('<section id="layers">') < html.index("Run summary")
    )


def test_report_without_the_scan_has_no_figure_and_no_error(tmp_path):
    html = _report(tmp_path, None)
    assert 'id="layers"' not in html and "layer_scan.tsv" not in html and "Run summary" in html


def test_table_round_trip_and_a_missing_column(tmp_path):
    table = scan_table()
    paths = write_layer_scan(table, {"chosen_layer": "blocks.2", "n": np.int64(3)}, tmp_path / "layer_scan.tsv")
    assert [p.name for p in paths] == ["layer_scan.tsv", "layer_scan.parquet", "layer_scan.json"]
    back = read_layer_scan(tmp_path / "layer_scan.tsv")
    assert back["chosen"].tolist() == table["chosen"].tolist() and back["chosen"].dtype == bool
    np.testing.assert_allclose(back["auroc_test"], table["auroc_test"], rtol=1e-5)
    table.drop(columns=["chance"]).to_csv(tmp_path / "old.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match="no chance column") as err:
        read_layer_scan(tmp_path / "old.tsv")
    assert "old.tsv" in str(err.value.path) and "layer-scan" in err.value.fix
