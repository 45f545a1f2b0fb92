"""HF adapter with tiny random checkpoints and tokenizers built here (k-mer WordLevel and BPE)."""

import itertools

import numpy as np
import pytest
import torch

from dnalens.models.base import load_model
from dnalens.models.hf import nucleotide_token_index

SEQS = ["ACGTTGCAAGGCTTAACGATCGATCGGGATCCATG", "TTGACAGCTAGCTCAGTCCTAGGT"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def kmer_tokenizer():
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {
        t: i
        for i, t in enumerate(SPECIAL + ["".join(p) for k in (1, 2, 3) for p in itertools.product("ACGTN", repeat=k)])
    }
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(".{1,3}"), behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def bpe_tokenizer():
    from tokenizers import Tokenizer, models, trainers
    from transformers import PreTrainedTokenizerFast

    rng = np.random.default_rng(0)
    corpus = ["".join(rng.choice(list("ACGT"), 200)) for _ in range(50)]
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=60, special_tokens=SPECIAL))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]")


@pytest.fixture(scope="module")
def masked_dir(tmp_path_factory):
    from transformers import BertConfig, BertForMaskedLM

    tok = kmer_tokenizer()
    torch.manual_seed(0)
    model = BertForMaskedLM(
        BertConfig(
            vocab_size=len(tok),
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=64,
        )
    )
    out = tmp_path_factory.mktemp("bert")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def causal_dir(tmp_path_factory):
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = bpe_tokenizer()
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=3, n_head=2, n_positions=64))
    out = tmp_path_factory.mktemp("gpt2")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_nucleotide_token_index_against_brute_force():
    offsets = np.array([[0, 0], [0, 3], [3, 5], [5, 6], [0, 0]])
    got = nucleotide_token_index(offsets, 6)
    want = [next(t for t, (a, b) in enumerate(offsets) if a <= i < b) for i in range(6)]
    assert got.tolist() == want == [1, 1, 1, 2, 2, 3]


@pytest.mark.parametrize("which", ["masked_dir", "causal_dir"])
def test_hf_activations_map_tokens_to_nucleotides(which, request):
    directory = request.getfixturevalue(which)
    adapter = load_model({"family": "hf", "path": str(directory)})
    assert adapter.causal == (which == "causal_dir")
    layer = adapter.layers[1]
    acts = adapter.activations(SEQS, ["blocks.1"])["blocks.1"]  # alias of the block list's entry 1
    for seq, arr in zip(SEQS, acts):
        enc = adapter.tokenizer(seq, return_offsets_mapping=True, return_tensors="pt")
        saved = {}
        handle = adapter.model.get_submodule(layer).register_forward_hook(
            lambda m, i, o: saved.__setitem__("x", (o[0] if isinstance(o, tuple) else o).detach())
        )
        with torch.no_grad():
            adapter.model(
                input_ids=enc["input_ids"].to(adapter.device), attention_mask=enc["attention_mask"].to(adapter.device)
            )
        handle.remove()
        offsets = enc["offset_mapping"][0].numpy()
        token_of = [next(t for t, (a, b) in enumerate(offsets) if a <= i < b) for i in range(len(seq))]
        assert arr.shape == (len(seq), 16)
        np.testing.assert_allclose(arr, saved["x"][0].float().cpu().numpy()[token_of], atol=1e-5)


def test_hf_causal_spliced_loss_clean_equals_identity(causal_dir):
    adapter = load_model({"family": "hf", "path": str(causal_dir)})
    clean = adapter.spliced_loss(SEQS[:1], "blocks.0")
    assert clean == pytest.approx(adapter.spliced_loss(SEQS[:1], "blocks.0", replace=lambda x: x), rel=1e-6)
    assert abs(adapter.spliced_loss(SEQS[:1], "blocks.0", replace=lambda x: x * 3) - clean) > 1e-4
