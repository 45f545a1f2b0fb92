"""Many genomes in one run: genome sheets (TSV) and several `--configfile`s combined into one DAG.

A sheet is a TSV with one row per genome; its columns are the keys of a YAML genome entry (`name` plus
`$defs/genome` of workflow/schemas/config.schema.yaml). Rows are validated like YAML entries and a bad
row is one InputError naming the sheet, the line and the column, raised while the Snakefile is parsed, so
nothing is written. Snakemake deep-merges configfiles, which would let a sheet path in one file clobber a
mapping in another; `collect_genomes` therefore reads `genomes:` from every configfile itself and unions
them. `check_combined_configs` refuses files that would share one dictionary across different models,
layers or strand settings.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dnalens.errors import InputError
from dnalens.genome.sources import PREDICT, SOURCE_ROLES, is_url
from dnalens.genome.textio import iter_lines
from dnalens.settings import config_schema, safe_name, section_schema

NAME = "name"
INTEGER_COLUMNS = ("genetic_code",)
LIST_COLUMNS = ("contigs",)
SHEET_TOPOLOGIES = ("linear", "circular")
#: settings every genome of one run must share (one dictionary reads one model's layer on one strand
#: setting); section -> keys, None = every key of the section.
SHARED_SETTINGS: dict[str, tuple[str, ...] | None] = {
    "model": None,
    "sae": ("layer",),
    "extract": ("layers",),
    "windows": ("strands",),
}
_SHEET_FORM = "a mapping name -> genome entry, or the path of a genome sheet (TSV)"


def sheet_columns() -> tuple[str, ...]:
    """`name` and the keys of one YAML genome entry, in schema order."""
    return (NAME, *config_schema()["$defs"]["genome"]["properties"])


def read_genome_sheet(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """{name: genome entry} from a TSV sheet; the first non-comment line is the header, `#` lines are comments.

    An entry holds only the keys whose cell is not empty (as a YAML entry holds only the keys it names),
    so the schema's defaults are filled later by the same `validate` as for YAML configs.
    """
    header: list[str] | None = None
    genomes: dict[str, dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    for lineno, line in iter_lines(path, "genome sheet"):
        if lineno == 1:
            line = line.lstrip("\ufeff")  # a byte-order mark written by spreadsheet programs
        if line.lstrip().startswith("#"):
            continue
        if not line.strip():
            raise InputError(
                "empty row (only tabs or spaces).",
                path=path,
                line=lineno,
                fix="delete the line, or start it with '#' to keep it as a comment.",
            )
        cells = [cell.strip() for cell in line.split("\t")]
        if header is None:
            header = _check_header(cells, path, lineno)
            continue
        name, entry = _parse_row(header, cells, path, lineno)
        if name in genomes:
            raise InputError(
                f"column name: genome {name!r} is already named on line {first_line[name]}.",
                path=path,
                line=lineno,
                fix="give every row its own name (it becomes results/<name>/), or delete the duplicate row.",
            )
        genomes[name] = entry
        first_line[name] = lineno
    if header is None or not genomes:
        raise InputError(
            "the genome sheet has no " + ("header line." if header is None else "genome rows."),
            path=path,
            fix="write a tab-separated header (name, fasta or genbank, ...) and one row per genome.",
        )
    return genomes


def _check_header(cells: list[str], path, lineno: int) -> list[str]:
    columns = sheet_columns()
    for i, cell in enumerate(cells):
        if cell not in columns:
            raise InputError(
                f"unknown column {cell!r}." if cell else f"header cell {i + 1} is empty.",
                path=path,
                line=lineno,
                fix=f"use the keys of a genome entry as columns: {', '.join(columns)} (config/README.md, genomes).",
            )
        if cell in cells[:i]:
            raise InputError(f"column {cell!r} appears twice in the header.", path=path, line=lineno, fix="keep one.")
    if NAME not in cells:
        raise InputError(
            "the header has no `name` column.",
            path=path,
            line=lineno,
            fix="add a `name` column (the first non-comment line is the header; a line starting with '#' is a comment).",
        )
    return cells


def _parse_row(header: list[str], cells: list[str], path, lineno: int) -> tuple[str, dict[str, Any]]:
    """One data row -> (name, entry): cells typed, checked against the schema, the local files looked up."""
    if len(cells) > len(header):
        raise InputError(
            f"the row has {len(cells)} cells, the header {len(header)} columns.",
            path=path,
            line=lineno,
            fix="separate cells with one tab each, and remove stray tabs at the end of the line.",
        )
    row = dict(zip(header, cells))  # cells missing at the end of a short row are empty

    def error(column: str, problem: str, fix: str) -> InputError:
        return InputError(f"column {column}: {problem}", path=path, line=lineno, fix=fix)

    name = row.get(NAME, "")
    try:
        safe_name(name, "name")
    except InputError as err:
        problem = "the genome has no name." if not name else err.problem
        raise error(NAME, problem, err.fix or "") from None
    entry = {key: _typed(key, value, error) for key, value in row.items() if key != NAME and value}
    _check_entry(entry, error)
    _check_local_files(entry, error)
    return name, entry


def _typed(key: str, value: str, error) -> Any:
    if key in INTEGER_COLUMNS:
        try:
            return int(value)
        except ValueError:
            raise error(key, f"{value!r} is not an integer.", "write a whole number, e.g. 11.") from None
    if key in LIST_COLUMNS:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            raise error(
                key, f"{value!r} names no contig.", "write contig names separated by commas, or leave it empty."
            )
        return items
    if key == "topology" and value not in SHEET_TOPOLOGIES:
        raise error(
            key,
            f"{value!r} is not linear or circular.",
            "write linear or circular (for every contig); a per-contig mapping (contig -> topology) can only be "
            "given in a YAML genome entry.",
        )
    return value


def _check_entry(entry: dict[str, Any], error) -> None:
    """The schema's `$defs/genome` (jsonschema), then the entry's own cross-key rules (GenomeSettings.check)."""
    from jsonschema.exceptions import best_match

    from dnalens.genome.prepare import GenomeSettings

    # the rules across keys (exactly one of fasta / genbank) are left to GenomeSettings.check, whose message
    # says which key to drop, as for YAML entries (dnalens.settings.check_section)
    found = best_match(
        e for e in _genome_validator().iter_errors(entry) if next(iter(e.relative_schema_path), None) == "properties"
    )
    if found is not None:
        column = str(found.absolute_path[0])
        described = config_schema()["$defs"]["genome"]["properties"][column]["description"]
        problem = f"{found.message}."
        if found.validator == "pattern" and "://" in str(found.instance):
            problem = f"{found.instance!r} uses an unsupported URL scheme (a local path or an http(s) URL)."
        raise error(column, problem, " ".join(described.split()))
    try:
        GenomeSettings(**entry).check()
    except InputError as err:
        columns = [c for c in ("fasta", "genbank", "annotation", "kingdom") if re.search(rf"`{c}\b", err.problem)]
        raise error("/".join(columns) or "fasta/genbank", err.problem, err.fix or "") from None


@functools.cache
def _genome_validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(section_schema("genomes"))


def _check_local_files(entry: Mapping[str, Any], error) -> None:
    """fasta / genbank / annotation given as local paths must exist (relative to the working directory)."""
    for role in SOURCE_ROLES:
        value = entry.get(role)
        if not value or is_url(value) or (role == "annotation" and value == PREDICT):
            continue
        if not Path(value).is_file():
            raise error(
                role,
                f"file {value!r} not found" + ("." if Path(value).is_absolute() else f" (relative to {os.getcwd()})."),
                "correct the path; relative paths are relative to the working directory snakemake runs in.",
            )


def _read_config(path: str | os.PathLike) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.load(Path(path).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"cannot read the config file ({err}).", path=path) from None
    return data if isinstance(data, dict) else {}


def _genomes_of(value: Any, origin: str) -> dict[str, Any]:
    if isinstance(value, str):
        return read_genome_sheet(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise InputError(
        f"`genomes:` must be {_SHEET_FORM}, not {type(value).__name__}.",
        path=origin,
        fix="see config/README.md, section genomes.",
    )


def _differing_keys(a: Any, b: Any) -> str:
    if not (isinstance(a, Mapping) and isinstance(b, Mapping)):
        return ""
    keys = sorted(k for k in {*a, *b} if a.get(k) != b.get(k))
    return f" (they differ in {', '.join(f'`{k}`' for k in keys)})"


def collect_genomes(configfiles: Sequence[str | os.PathLike], config: Mapping[str, Any]) -> dict[str, Any]:
    """The union of `genomes:` over every configfile (each a mapping or a sheet path); a name two files
    define differently is refused. Without any file that names genomes, `config["genomes"]` is used."""
    found: dict[str, tuple[Any, str]] = {}
    for configfile in map(str, configfiles):
        data = _read_config(configfile)
        if "genomes" not in data:
            continue
        value = data["genomes"]
        origin = f"{value} (named in {configfile})" if isinstance(value, str) else configfile
        for name, entry in _genomes_of(value, configfile).items():
            if name in found and found[name][0] != entry:
                raise InputError(
                    f"genome {name!r} is defined differently in {found[name][1]} and in {origin}"
                    f"{_differing_keys(found[name][0], entry)}.",
                    fix="give the two genomes different names, or make their entries the same.",
                )
            found.setdefault(name, (entry, origin))
    if found:
        return {name: entry for name, (entry, _) in found.items()}
    if "genomes" in config:
        return _genomes_of(config["genomes"], ", ".join(map(str, configfiles)) or "config")
    raise InputError(
        "the config names no genomes.",
        path=", ".join(map(str, configfiles)) or None,
        fix=f"add `genomes:` ({_SHEET_FORM}); see config/README.md.",
    )


def check_combined_configs(configfiles: Sequence[str | os.PathLike]) -> None:
    """Configfiles of one run share one dictionary: refuse two that set a SHARED_SETTINGS key differently.
    Only keys both files set explicitly are compared (a key set in one file applies to every genome)."""
    first: dict[tuple[str, str], tuple[Any, str]] = {}
    for configfile in map(str, configfiles):
        data = _read_config(configfile)
        for section, keys in SHARED_SETTINGS.items():
            block = data.get(section)
            if not isinstance(block, Mapping):
                continue
            for key in block if keys is None else [k for k in keys if k in block]:
                seen = first.setdefault((section, key), (block[key], configfile))
                if seen[0] != block[key]:
                    raise InputError(
                        f"{seen[1]} and {configfile} set different `{section}.{key}` ({seen[0]!r} and "
                        f"{block[key]!r}); one run shares one dictionary, which reads one model's layer on one "
                        "strand setting.",
                        fix=f"run them as separate snakemake runs, or give them the same `{section}.{key}`.",
                    )
