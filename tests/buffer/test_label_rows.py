"""Buffer labels read through the label store's row map equal the rows a copying buffer held; old formats,
a changed or missing store are refused with the fix."""

import json
import shutil

import numpy as np
import pytest
from buffer_inputs import REGIONS, WINDOWS, write_activations, write_label_store

from dnalens.buffer.build import run_buffer
from dnalens.errors import InputError
from dnalens.formats.buffer import ActivationBuffer
from dnalens.formats.label_store import LabelStore
from dnalens.sae.encode import encode_activations
from dnalens.sae.topk import TopKSAE

TRIM = 3
SHARDS = ((2, 0), (3, 1))  # windows out of label-store order: the row map follows the codes' windows


@pytest.fixture
def made(tmp_path):
    write_activations(tmp_path / "acts", WINDOWS, trim=TRIM, shard_windows=SHARDS)
    labels, instances = write_label_store(tmp_path / "res" / "labels", WINDOWS)
    encode_activations(TopKSAE(6, 12, k=2), tmp_path / "acts", tmp_path / "codes", progress=False)
    run_buffer(tmp_path / "codes", tmp_path / "res" / "labels", tmp_path / "res" / "buffer", progress=False)
    # what a copying buffer held: per window in code order, its label-store tokens after the trim
    offsets = np.concatenate([[0], np.cumsum([w.length for w in WINDOWS])])
    rows = np.concatenate([np.arange(offsets[w] + TRIM, offsets[w + 1]) for shard in SHARDS for w in shard])
    return tmp_path, labels[rows], instances[rows]


def test_row_map_reads_equal_the_copied_rows(made):
    tmp_path, labels, instances = made
    buf = ActivationBuffer.open(tmp_path / "res" / "buffer")
    assert buf.label_store is not None and buf.n_tokens == len(labels)
    np.testing.assert_array_equal(buf.labels, labels)
    np.testing.assert_array_equal(np.asarray(buf.instances), instances)
    subset = np.array([len(labels) - 1, 0, 5, 5, 11])
    for j, name in enumerate(buf.label_names):
        np.testing.assert_array_equal(buf.label(name), labels[:, j])
        np.testing.assert_array_equal(buf.label_matrix[:, j], labels[:, j])
        np.testing.assert_array_equal(buf.label_matrix[subset, j], labels[subset, j])
    np.testing.assert_array_equal(buf.label_matrix[subset], labels[subset])
    np.testing.assert_array_equal(buf.label_matrix.sum(axis=0), labels.sum(axis=0))
    for r in range(len(REGIONS)):
        np.testing.assert_array_equal(buf.instance_matrix[:, r], instances[:, r])
        np.testing.assert_array_equal(buf.instance_matrix[subset, r], instances[subset, r])
    np.testing.assert_array_equal(buf.instance_matrix[subset], instances[subset])
    part = buf.select([1])  # the second window in code order (WINDOWS[0])
    first = int(buf.windows.token_end[0])
    np.testing.assert_array_equal(part.labels, labels[first : int(buf.windows.token_end[1])])


def test_store_rows_are_each_rows_label_store_token(made, tmp_path):
    """The row map probe/inputs reads categorical concepts through: per window in code order, its store
    tokens after the trim (written out as the fixture does); None for a buffer holding its own labels."""
    root, labels, _ = made
    buf = ActivationBuffer.open(root / "res" / "buffer")
    offsets = np.concatenate([[0], np.cumsum([w.length for w in WINDOWS])])
    rows = np.concatenate([np.arange(offsets[w] + TRIM, offsets[w + 1]) for shard in SHARDS for w in shard])
    np.testing.assert_array_equal(buf.store_rows, rows)
    assert ActivationBuffer.open(buf.select([0, 1]).save(tmp_path / "piece")).store_rows is None


def test_saved_copies_keep_reading_through_the_store_or_hold_their_own(made, tmp_path):
    root, labels, instances = made
    buf = ActivationBuffer.open(root / "res" / "buffer")
    again = ActivationBuffer.open(buf.save(tmp_path / "elsewhere" / "buf"))
    assert again.meta["label_source"] == "store" and again.label_store.path.resolve() == buf.label_store.path.resolve()
    np.testing.assert_array_equal(again.labels, labels)
    piece = ActivationBuffer.open(buf.select([0, 1]).save(tmp_path / "piece"))  # in memory: saved inline
    n = int(buf.windows.token_end[1])
    assert piece.meta["label_source"] == "inline" and piece.label_store is None
    np.testing.assert_array_equal(piece.labels, labels[:n])
    np.testing.assert_array_equal(piece.instance_matrix[:, 2], instances[:n, 2])
    assert piece.bytes_per_token()["labels"] == 2.0


def test_moved_results_still_find_their_store(made, tmp_path):
    root = made[0]
    shutil.move(root / "res", tmp_path / "moved")  # buffer and labels together: the relative path holds
    shutil.rmtree(root / "codes")
    assert ActivationBuffer.open(tmp_path / "moved" / "buffer").labels.shape == made[1].shape


def test_missing_or_changed_store_is_an_input_error(made, tmp_path):
    root = made[0]
    shutil.move(root / "res" / "labels", tmp_path / "away")
    with pytest.raises(InputError, match="found at none of"):
        ActivationBuffer.open(root / "res" / "buffer")
    assert ActivationBuffer.open(root / "res" / "buffer", labels=tmp_path / "away").n_tokens == len(made[1])
    write_label_store(tmp_path / "other", WINDOWS, seed=5)  # same windows, other labels
    with pytest.raises(InputError, match="not the one this buffer was built from.*Fix: rerun the buffer rule"):
        ActivationBuffer.open(root / "res" / "buffer", labels=tmp_path / "other")


def test_old_formats_are_refused_with_the_fix(made):
    root = made[0]
    meta_path = root / "res" / "buffer" / "buffer.json"
    meta = json.loads(meta_path.read_text())
    meta["version"] = 1
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"buffer.*format version 1 keeps its own copy.*Fix: rebuild it") as err:
        ActivationBuffer.open(root / "res" / "buffer")
    assert err.value.path == str(root / "res" / "buffer")
    store_meta = root / "res" / "labels" / "meta.json"
    meta = json.loads(store_meta.read_text())
    meta["version"] = 1
    store_meta.write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"label store format version 1.*Fix: rebuild it: rerun the labels rule"):
        LabelStore.open(root / "res" / "labels")
