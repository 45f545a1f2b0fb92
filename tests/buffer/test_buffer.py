"""ActivationBuffer built from real encode output and a label store: rows line up, select/concat/save hold."""

import json

import numpy as np
import pytest
import torch
from buffer_inputs import CONCEPTS, REGIONS, WINDOWS, write_activations, write_label_store

from dnalens import cli
from dnalens.buffer.build import run_buffer
from dnalens.errors import InputError
from dnalens.formats.buffer import ActivationBuffer
from dnalens.sae.encode import encode_activations
from dnalens.sae.io import save_sae
from dnalens.sae.topk import TopKSAE

TRIM = 2


@pytest.fixture
def built(tmp_path):
    torch.manual_seed(0)
    sae = TopKSAE(6, 24, k=3)
    with torch.no_grad():
        sae.b_enc.normal_(std=0.2)
    acts = write_activations(tmp_path / "acts", WINDOWS, trim=TRIM)
    labels, instances = write_label_store(tmp_path / "labels", WINDOWS)
    encode_activations(sae, tmp_path / "acts", tmp_path / "codes", progress=False)
    run_buffer(
        tmp_path / "codes",
        tmp_path / "labels",
        tmp_path / "buffer",
        dense_dir=tmp_path / "acts",
        genome="toy",
        progress=False,
    )
    return sae, acts, labels, instances, ActivationBuffer.open(tmp_path / "buffer")


def _expected_label_rows():
    offsets = np.concatenate([[0], np.cumsum([w.length for w in WINDOWS])])
    return np.concatenate([np.arange(offsets[i] + TRIM, offsets[i + 1]) for i in range(len(WINDOWS))])


def test_rows_line_up_with_codes_labels_instances_and_dense(built):
    sae, acts, labels, instances, buf = built
    dense = np.concatenate(acts)
    assert buf.n_tokens == dense.shape[0] == sum(w.length - TRIM for w in WINDOWS)
    want_codes = sae.encode(torch.from_numpy(dense.astype(np.float32))).detach().numpy()
    np.testing.assert_allclose(buf.codes.toarray(), want_codes.astype(np.float16), rtol=1e-3, atol=1e-3)
    assert buf.codes.format == "csr" and buf.codes.shape == (buf.n_tokens, 24)
    assert buf.code_arrays.values.dtype == np.float16 and buf.code_arrays.indices.dtype == np.uint16
    rows = _expected_label_rows()
    np.testing.assert_array_equal(buf.labels, labels[rows])
    np.testing.assert_array_equal(buf.label("tRNA"), labels[rows, CONCEPTS.index("tRNA")])
    np.testing.assert_array_equal(buf.instances, instances[rows])
    assert buf.label_names == CONCEPTS and buf.instance_names == REGIONS
    np.testing.assert_array_equal(buf.dense, dense)
    table = buf.windows
    assert list(table["contig"]) == [w.contig for w in WINDOWS] and list(table["strand"]) == ["+", "-", "+", "-"]
    lengths = [w.length - TRIM for w in WINDOWS]
    assert list(table["token_end"]) == list(np.cumsum(lengths)) and set(table["read_offset"]) == {TRIM}


def test_codes_are_memory_mapped_and_small(built):
    buf = built[-1]
    assert isinstance(buf.code_arrays.values, np.memmap)
    per = buf.bytes_per_token()
    assert per["codes"] == pytest.approx((buf.nnz * 4 + (buf.n_tokens + 1) * 8) / buf.n_tokens)
    # labels and instance ids stay in the label store: the buffer holds neither
    assert buf.nnz <= 3 * buf.n_tokens and per["labels"] == 0.0 and per["instances"] == 0.0
    assert not list(buf.path.glob("labels*")) and not list(buf.path.glob("instances*"))
    assert json.loads((buf.path / "buffer.json").read_text())["label_store"]["path"] == "../labels"


def test_select_concat_save_round_trip(built, tmp_path):
    buf = built[-1]
    part = buf.select([2, 0])
    rows = np.concatenate([np.arange(buf.windows.token_start[i], buf.windows.token_end[i]) for i in (2, 0)])
    np.testing.assert_array_equal(part.codes.toarray(), buf.codes.toarray()[rows])
    np.testing.assert_array_equal(part.labels, buf.labels[rows])
    np.testing.assert_array_equal(part.instances, buf.instances[rows])
    assert list(part.windows["row"]) == [2, 0] and int(part.windows.token_start[0]) == 0
    mask = np.array([True, False, True, True])
    again = ActivationBuffer.concat([buf.select([0]), buf.select(mask[1:].nonzero()[0] + 1)])
    for attr in ("labels", "instances", "dense"):
        np.testing.assert_array_equal(getattr(again, attr), getattr(buf.select(mask), attr))
    np.testing.assert_array_equal(again.codes.toarray(), buf.select(mask).codes.toarray())
    saved = ActivationBuffer.open(again.save(tmp_path / "again"))
    np.testing.assert_array_equal(saved.codes.toarray(), again.codes.toarray())
    np.testing.assert_array_equal(saved.labels, again.labels)
    assert list(saved.windows["token_end"]) == list(again.windows["token_end"])


def test_concat_can_offset_instance_ids(built):
    buf = built[-1]
    both = ActivationBuffer.concat([buf, buf], offset_instances=True)
    first, second = both.instances[: buf.n_tokens], both.instances[buf.n_tokens :]
    assert (second[second >= 0] > first.max()).all()
    np.testing.assert_array_equal(second < 0, first < 0)


def test_token_count_mismatch_is_named_and_leaves_nothing(tmp_path):
    write_activations(tmp_path / "acts", WINDOWS, trim=0)
    lengths = [w.length for w in WINDOWS]
    lengths[2] -= 1
    write_label_store(tmp_path / "labels", WINDOWS, lengths=lengths)
    encode_activations(TopKSAE(6, 12, k=2), tmp_path / "acts", tmp_path / "codes", progress=False)
    with pytest.raises(InputError, match=r"chr1:10-19\(\+\).*9 code rows but 8 labelled"):
        run_buffer(tmp_path / "codes", tmp_path / "labels", tmp_path / "buffer", progress=False)
    assert not (tmp_path / "buffer").exists() and not list(tmp_path.glob(".buffer*"))


def test_cli_buffer_and_buffer_info(tmp_path, capsys):
    write_activations(tmp_path / "acts", WINDOWS)
    write_label_store(tmp_path / "labels", WINDOWS)
    save_sae(TopKSAE(6, 12, k=2), tmp_path / "sae")
    assert (
        cli.main(
            [
                "encode",
                "--sae",
                str(tmp_path / "sae"),
                "--activations",
                str(tmp_path / "acts"),
                "--out",
                str(tmp_path / "codes"),
                "--settings",
                '{"device": "cpu"}',
            ]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "buffer",
                "--codes",
                str(tmp_path / "codes"),
                "--labels",
                str(tmp_path / "labels"),
                "--activations",
                str(tmp_path / "acts"),
                "--settings",
                '{"dense_twin": true}',
                "--out",
                str(tmp_path / "buf"),
                "--genome",
                "toy",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert cli.main(["buffer-info", str(tmp_path / "buf"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tokens"] == sum(w.length for w in WINDOWS) and info["dense_width"] == 6 and info["genome"] == "toy"
    assert info["mean_l0"] <= 2
    assert cli.main(["buffer-info", str(tmp_path / "buf")]) == 0
    assert "bytes/token" in capsys.readouterr().out
    assert cli.main(["buffer-info", str(tmp_path / "nope")]) == 2
