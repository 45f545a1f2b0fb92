"""The CLI turns InputError into one line and exit code 2; settings reject unknown keys by name."""

from dataclasses import dataclass

import pytest

from dnalens import cli
from dnalens.errors import InputError
from dnalens.settings import from_mapping, parse_settings


@dataclass(frozen=True)
class Demo:
    length: int = 10
    strands: tuple = ("+", "-")


def test_from_mapping_builds_typed_settings():
    s = from_mapping(Demo, {"length": 5, "strands": ["+"]})
    assert s == Demo(length=5, strands=("+",))


def test_from_mapping_names_unknown_key():
    with pytest.raises(InputError) as err:
        from_mapping(Demo, {"lenght": 5}, where="windows")
    assert "'lenght'" in err.value.message and "windows" in err.value.message
    assert "length" in err.value.message  # the fix lists the valid keys


def test_parse_settings_inline_and_bad_json(tmp_path):
    assert parse_settings('{"a": 1}') == {"a": 1}
    with pytest.raises(InputError, match="not valid JSON"):
        parse_settings("{a: 1}")
    path = tmp_path / "s.yaml"
    path.write_text("a: 2\n")
    assert parse_settings(str(path)) == {"a": 2}


def test_input_error_message_names_file_line_and_fix():
    err = InputError("bad strand 'x'.", path="a.gff3", line=7, fix="use + or -.")
    assert err.message == "a.gff3:7: bad strand 'x'. Fix: use + or -."


def test_cli_prints_one_line_and_exits_2(capsys, monkeypatch):
    def boom(args):
        raise InputError("no such contig 'chrZ'.", path="x.bed", line=3)

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    p = sub.add_parser("boom")
    p.set_defaults(func=boom)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["boom"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["dnalens boom: error: x.bed:3: no such contig 'chrZ'."]
