"""A suite of malformed inputs, each through the `dnalens <stage>` CLI end to end.

Every case must end with exit status 2, exactly one `dnalens <stage>: error: ...` line on stderr that
names the file (and the line, where the problem sits on one), no traceback, and no output files at all
(not even hidden temporaries) under the output directory. Categories: FASTA, annotation (GFF3/GTF),
GenBank, config (genome entries, --settings values and files, model/SAE paths, URLs), BED tracks
(concept tracks and window tables) and PWM files.

The cases run in-process through `dnalens.cli.main` (the `dnalens` console script's entry point) to stay
fast; `test_a_few_cases_as_real_processes` runs some through the installed `dnalens` executable.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dnalens.cli import main

REPO = Path(__file__).resolve().parents[2]
GENBANK = REPO / "resources" / "genomes" / "NC_005816.gb"
SEQ = ("ATGAAACCCGGGTTTTAA" + "ACGT" * 20) * 3  # contig c1, 294 bp
GOOD_FA = f">c1 test contig\n{SEQ}\n"
GOOD_GFF = "##gff-version 3\nc1\tsrc\tgene\t1\t18\t.\t+\t.\tID=g1\nc1\tsrc\tCDS\t1\t18\t.\t+\t0\tID=cds1;Parent=g1\n"
GOOD_WINDOWS = "c1\t0\t100\tw1\t0\t+\nc1\t0\t100\tw1\t0\t-\n"
JASPAR_OK = ">MA0001.1 TEST\nA [ 10 0 0 ]\nC [ 0 10 0 ]\nG [ 0 0 10 ]\nT [ 0 0 0 ]\n"


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    files: dict[str, str]  # written under {in}/ (str -> text; "@genbank:<old>=><new>" edits the bundled record)
    argv: list[str]  # {in} / {out} are replaced by the input / output directories
    needles: tuple[str, ...]
    extra_bytes: dict[str, bytes] = field(default_factory=dict)


def _prepare(spec: dict) -> list[str]:
    return ["prepare", "--name", "g", "--genome-settings", json.dumps(spec), "--outdir", "{out}/prep"]


def _fasta_case(id_: str, text: str, *needles: str) -> Case:
    return Case(id_, "fasta", {"bad.fa": text}, _prepare({"fasta": "{in}/bad.fa"}), needles)


def _gff_case(id_: str, row: str, *needles: str) -> Case:
    return Case(
        id_,
        "annotation",
        {"g.fa": GOOD_FA, "a.gff3": GOOD_GFF + row + "\n"},
        _prepare({"fasta": "{in}/g.fa", "annotation": "{in}/a.gff3"}),
        needles,
    )


def _genbank_case(id_: str, edit: tuple[str, str] | str, *needles: str) -> Case:
    return Case(
        id_,
        "genbank",
        {"bad.gb": edit if isinstance(edit, str) else f"@genbank:{edit[0]}=>{edit[1]}"},
        _prepare({"genbank": "{in}/bad.gb"}),
        needles,
    )


def _labels(*extra: str, settings: dict | None = None, annotation: str = "{in}/g.gff3") -> list[str]:
    argv = [
        "labels",
        "--fasta",
        "{in}/g.fa",
        "--annotation",
        annotation,
        "--out",
        "{out}/labels",
        "--export-bed",
        "{out}/labels_bed",
        "--summary",
        "{out}/summary.tsv",
        *extra,
    ]
    return argv + (["--settings", json.dumps(settings)] if settings is not None else [])


def _track_case(id_: str, name: str, text: str, *needles: str) -> Case:
    return Case(
        id_,
        "bed",
        {"g.fa": GOOD_FA, "g.gff3": GOOD_GFF, name: text},
        _labels(settings={"tracks": [{"path": f"{{in}}/{name}"}]}),
        needles,
    )


def _windows_case(id_: str, text: str, *needles: str) -> Case:
    return Case(
        id_, "bed", {"g.fa": GOOD_FA, "g.gff3": GOOD_GFF, "w.bed": text}, _labels("--windows", "{in}/w.bed"), needles
    )


def _pwm_case(id_: str, name: str, text: str | None, *needles: str, spec: dict | None = None) -> Case:
    files = {"g.fa": GOOD_FA, "g.gff3": GOOD_GFF}
    if text is not None:
        files[name] = text
    motif = {"path": f"{{in}}/{name}", **(spec or {})}
    return Case(id_, "pwm", files, _labels(settings={"motifs": [motif]}), needles)


def _settings_case(id_: str, argv_settings: str, files: dict[str, str], *needles: str) -> Case:
    return Case(
        id_, "config", {"g.fa": GOOD_FA, "g.gff3": GOOD_GFF, **files}, _labels("--settings", argv_settings), needles
    )


CASES = [
    # --- FASTA -------------------------------------------------------------------------------------
    _fasta_case("fasta-not-fasta", "hello world\n", "bad.fa:1:", "not a FASTA file"),
    _fasta_case("fasta-empty-contig", ">a\nACGT\n>b\n>c\nAC\n", "bad.fa:3:", "contig 'b' has no sequence"),
    _fasta_case("fasta-protein-letters", ">a\nMKLVEEQ\n", "bad.fa:2:", "invalid sequence character 'L'"),
    _fasta_case("fasta-duplicate-name", ">a\nAC\n>a\nGT\n", "bad.fa:3:", "occurs twice"),
    _fasta_case("fasta-empty-file", "", "bad.fa", "empty"),
    Case(
        "fasta-truncated-gzip",
        "fasta",
        {},
        _prepare({"fasta": "{in}/bad.fa.gz"}),
        ("bad.fa.gz", "re-download"),
        extra_bytes={"bad.fa.gz": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x4b\x4c\x4a"},
    ),
    Case(
        "fasta-unprepared-for-labels",
        "fasta",
        {"g.fa": "junk line\n>c1\nACGT\n"},
        ["labels", "--fasta", "{in}/g.fa", "--out", "{out}/labels"],
        ("g.fa", "line 1", "dnalens prepare"),
    ),
    Case("fasta-missing", "fasta", {}, _prepare({"fasta": "{in}/nope.fa"}), ("nope.fa", "not found")),
    # --- annotation (GFF3 / GTF) ---------------------------------------------------------------------
    _gff_case("gff3-8-columns", "c1\tsrc\tgene\t10\t60\t.\t+\tID=g2", "a.gff3:4:", "expected 9 tab-separated columns"),
    _gff_case("gff3-start-after-end", "c1\tsrc\tgene\t60\t10\t.\t+\t.\tID=g2", "a.gff3:4:", "start (60) > end (10)"),
    _gff_case("gff3-bad-strand", "c1\tsrc\tgene\t10\t60\t.\tx\t.\tID=g2", "a.gff3:4:", "bad strand column 'x'"),
    _gff_case("gff3-non-integer-start", "c1\tsrc\tgene\tten\t60\t.\t+\t.\tID=g2", "a.gff3:4:", "ten"),
    _gff_case("gff3-unknown-parent", "c1\tsrc\tgene\t10\t60\t.\t+\t.\tID=g2;Parent=ghost", "a.gff3:4:", "ghost"),
    _gff_case("gff3-beyond-contig", "c1\tsrc\tgene\t10\t500\t.\t+\t.\tID=g2", "a.gff3:4:", "beyond the end"),
    _gff_case("gff3-bad-phase", "c1\tsrc\tCDS\t1\t18\t.\t+\t5\tID=c9;Parent=g1", "a.gff3:4:", "bad phase"),
    Case(
        "gtf-bad-attribute",
        "annotation",
        {
            "g.fa": GOOD_FA,
            "a.gtf": 'c1\tsrc\texon\t10\t60\t.\t+\t.\tgene_id "g"; transcript_id "t";\n'
            'c1\tsrc\texon\t70\t80\t.\t+\t.\tgene_id "g" transcript_id\n',
        },
        _prepare({"fasta": "{in}/g.fa", "annotation": "{in}/a.gtf", "annotation_format": "gtf"}),
        ("a.gtf:2:", "bad GTF attribute"),
    ),
    Case(
        "gff3-bad-row-given-to-labels",
        "annotation",
        {"g.fa": GOOD_FA, "g.gff3": GOOD_GFF + "c1\tsrc\tgene\t10\t60\t.\t+\n"},
        _labels(),
        ("g.gff3:4:", "expected 9 tab-separated columns"),
    ),
    # --- GenBank -------------------------------------------------------------------------------------
    _genbank_case("genbank-garbage", "LOCUS       x\nFEATURES   garbage\n//\n", "bad.gb", "not a valid GenBank file"),
    _genbank_case(
        "genbank-bad-location",
        ("     CDS             87..1109", "     CDS             87..abc"),
        "bad.gb:59:",
        "cannot parse the location '87..abc'",
    ),
    _genbank_case(
        "genbank-beyond-end",
        ("     CDS             87..1109", "     CDS             87..99999"),
        "bad.gb",
        "beyond the end of contig",
    ),
    _genbank_case(
        "genbank-bad-sequence", ("        1 tgtaacgaac", "        1 xxtaacgaac"), "bad.gb", "invalid sequence character"
    ),
    _genbank_case("genbank-truncated", "@genbank-truncate:3000", "bad.gb", "not a valid GenBank file"),
    _genbank_case("genbank-empty", "", "bad.gb", "empty"),
    # --- config ----------------------------------------------------------------------------------------
    Case(
        "config-unknown-genome-key",
        "config",
        {"g.fa": GOOD_FA},
        _prepare({"fasta": "{in}/g.fa", "fastaa": "x"}),
        ("'fastaa'", "genomes.g"),
    ),
    Case(
        "config-ftp-url",
        "config",
        {},
        _prepare({"fasta": "ftp://example.org/g.fa"}),
        ("ftp://example.org/g.fa", "http"),
    ),
    Case(
        "config-file-url",
        "config",
        {},
        _prepare({"genbank": "file:///etc/hostname"}),
        ("file:///etc/hostname", "unsupported URL scheme"),
    ),
    Case(
        "config-genetic-code-not-int",
        "config",
        {"g.fa": GOOD_FA},
        _prepare({"fasta": "{in}/g.fa", "genetic_code": "eleven"}),
        ("genomes.g.genetic_code", "integer"),
    ),
    Case(
        "config-bad-topology",
        "config",
        {"g.fa": GOOD_FA},
        _prepare({"fasta": "{in}/g.fa", "topology": "round"}),
        ("round",),
    ),
    _settings_case(
        "config-settings-yaml-syntax",
        "{in}/s.yaml",
        {"s.yaml": "gc_window: 5\nexclude: [CDS\n"},
        "s.yaml:3:",
        "not valid YAML",
    ),
    _settings_case(
        "config-settings-json-syntax",
        "{in}/s.json",
        {"s.json": '{"gc_window": 5,\n  "exclude": }\n'},
        "s.json:2:",
        "not valid JSON",
    ),
    _settings_case("config-settings-not-a-mapping", "{in}/s.yaml", {"s.yaml": "- gc_window\n"}, "s.yaml", "mapping"),
    _settings_case("config-settings-unknown-key", '{"gc_windw": 5}', {}, "'gc_windw'", "concepts"),
    _settings_case("config-settings-wrong-type", '{"gc_window": "wide"}', {}, "concepts.gc_window", "integer"),
    _settings_case("config-settings-file-missing", "{in}/nope.yaml", {}, "nope.yaml", "not found"),
    Case(
        "config-model-path-missing",
        "config",
        {"g.fa": GOOD_FA, "w.bed": GOOD_WINDOWS},
        [
            "sample",
            "--fasta",
            "{in}/g.fa",
            "--windows",
            "{in}/w.bed",
            "--model",
            '{"path": "{in}/no_model"}',
            "--out",
            "{out}/activations",
        ],
        ("no_model", "config.json and model.safetensors"),
    ),
    Case(
        "config-sae-path-missing",
        "config",
        {},
        ["encode", "--sae", "{in}/no_sae", "--activations", "{in}/acts", "--out", "{out}/codes"],
        ("no_sae", "SAE path not found"),
    ),
    # --- BED tracks and window tables ------------------------------------------------------------------------
    _track_case("track-two-columns", "t.bed", "c1\t5\n", "t.bed:1:", "at least 3 tab-separated BED columns"),
    _track_case("track-non-integer", "t.bed", "c1\t5\t20\nc1\tfive\t20\n", "t.bed:2:", "invalid literal"),
    _track_case("track-end-before-start", "t.bed", "track name=x\nc1\t50\t9\n", "t.bed:2:", "bad interval 50-9"),
    _track_case("track-past-contig-end", "t.bed", "c1\t5\t20\nc1\t5\t9000\n", "t.bed:2:", "runs past the contig end"),
    _track_case(
        "track-gff3-8-columns",
        "t.gff3",
        "##gff-version 3\nc1\tsrc\tgene\t1\t10\t.\t+\n",
        "t.gff3:2:",
        "9 tab-separated GFF3 columns",
    ),
    Case(
        "track-missing",
        "bed",
        {"g.fa": GOOD_FA, "g.gff3": GOOD_GFF},
        _labels(settings={"tracks": [{"path": "{in}/gone.bed"}]}),
        ("gone.bed", "track file not found"),
    ),
    _windows_case("windows-two-columns", "c1\t0\n", "w.bed:1:", "expected 6 tab-separated BED columns"),
    _windows_case("windows-bad-strand", GOOD_WINDOWS + "c1\t0\t100\tw\t0\t*\n", "w.bed:3:", "strand must be + or -"),
    _windows_case("windows-non-integer", "c1\t0\tend\tw\t0\t+\n", "w.bed:1:", "not integers"),
    # --- PWM files ---------------------------------------------------------------------------------------
    _pwm_case("pwm-garbage", "m.jaspar", "garbage\n", "m.jaspar:1:", "no motif could be read"),
    _pwm_case(
        "pwm-non-numeric-count",
        "m.jaspar",
        JASPAR_OK.replace("G [ 0 0 10 ]", "G [ 0 x 10 ]"),
        "m.jaspar:4:",
        "not a row of counts",
    ),
    _pwm_case(
        "pwm-ragged-rows", "m.jaspar", JASPAR_OK.replace("C [ 0 10 0 ]", "C [ 0 10 ]"), "m.jaspar:3:", "2 columns"
    ),
    _pwm_case("pwm-pfm-non-numeric", "m.pfm", "1 2 3\n1 2 3\n1 ? 3\n1 2 3\n", "m.pfm:3:", "not a row of counts"),
    _pwm_case("pwm-missing", "gone.jaspar", None, "gone.jaspar", "motif file not found"),
    _pwm_case(
        "pwm-unknown-format", "m.jaspar", JASPAR_OK, "m.jaspar", "format must be one of", spec={"format": "homer"}
    ),
]
CATEGORIES = ("fasta", "annotation", "genbank", "config", "bed", "pwm")


def _materialise(case: Case, root: Path) -> tuple[list[str], Path]:
    inp, out = root / "in", root / "out"
    inp.mkdir()
    for name, text in case.files.items():
        if text.startswith("@genbank:"):
            old, new = text[len("@genbank:") :].split("=>")
            original = GENBANK.read_text()
            assert old in original, old
            text = original.replace(old, new, 1)
        elif text.startswith("@genbank-truncate:"):
            text = GENBANK.read_text()[: int(text.split(":")[1])]
        (inp / name).write_text(text)
    for name, data in case.extra_bytes.items():
        (inp / name).write_bytes(data)
    argv = [a.replace("{in}", str(inp)).replace("{out}", str(out)) for a in case.argv]
    return argv, out


def _check(case: Case, code: int, stderr: str, out: Path) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if ": error: " in line]
    assert code == 2, f"exit {code}\n{stderr[-2000:]}"
    assert "Traceback" not in stderr, stderr[-2000:]
    assert len(errors) == 1 and errors[0].startswith(f"dnalens {case.argv[0]}: error: "), lines
    for needle in case.needles:
        assert needle in errors[0], f"{needle!r} not in: {errors[0]}"
    leftovers = [str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert not leftovers, f"partial outputs left behind: {leftovers}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_input_fails_cleanly(case, tmp_path, capsys):
    argv, out = _materialise(case, tmp_path)
    capsys.readouterr()
    code = main(argv)
    _check(case, code, capsys.readouterr().err, out)


def test_the_suite_covers_every_category():
    counts = {c: sum(case.category == c for case in CASES) for c in CATEGORIES}
    assert len(CASES) >= 25 and len({c.id for c in CASES}) == len(CASES)
    assert all(n >= 3 for n in counts.values()), counts
    assert {case.category for case in CASES} == set(CATEGORIES)


@pytest.mark.parametrize("case_id", ["fasta-empty-contig", "genbank-bad-location", "pwm-ragged-rows"])
def test_a_few_cases_as_real_processes(case_id, tmp_path):
    """The installed `dnalens` executable: exit status 2 from the process, one error line on stderr."""
    case = next(c for c in CASES if c.id == case_id)
    argv, out = _materialise(case, tmp_path)
    # next to this interpreter in a venv; on PATH for a `pip install --target` site (make gpu-check's host)
    exe = Path(sys.executable).with_name("dnalens")
    if not exe.exists():
        exe = Path(shutil.which("dnalens") or exe)
    assert exe.exists(), f"the dnalens executable is neither next to {sys.executable} nor on the PATH"
    run = subprocess.run([str(exe), *argv], capture_output=True, text=True, timeout=120)
    _check(case, run.returncode, run.stderr, out)
