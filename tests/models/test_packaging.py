"""A plain (non-editable) install carries the bundled model and finds it from any working directory."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "resources/models/dnalens-tiny-bacteria"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Build the wheel from a copy of the sources (no build/ or egg-info left in the checkout)."""
    pytest.importorskip("setuptools")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "workflow/schemas/config.schema.yaml"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(BUNDLED, src / "resources/models" / BUNDLED.name)
    out = tmp_path_factory.mktemp("wheel")
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0 and "No module named pip" in run.stderr:
        pytest.skip("pip is not available in this environment")
    assert run.returncode == 0, run.stderr
    return next(out.glob("dnalens-*.whl"))


def test_wheel_carries_the_bundled_model_byte_for_byte(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        packed = zf.read("dnalens/models/bundled/dnalens-tiny-bacteria/model.safetensors")
        assert "dnalens/models/bundled/dnalens-tiny-bacteria/config.json" in names
        assert "dnalens/report/templates/report.html.j2" in names  # the other package data still ships
        schema = zf.read("dnalens/schemas/config.schema.yaml")  # every settings default comes from it
    assert schema == (REPO / "workflow/schemas/config.schema.yaml").read_bytes()
    assert packed == (BUNDLED / "model.safetensors").read_bytes()


def test_installed_package_loads_the_bundled_model_from_another_directory(wheel, tmp_path):
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)  # what `pip install --target` lays out for a pure-Python wheel
    elsewhere.mkdir()
    code = (
        "import dnalens, json; from dnalens.models.tiny_adapter import bundled_path, load_tiny_module;"
        "p = bundled_path(); m = load_tiny_module(p);"
        "print(json.dumps([dnalens.__file__, str(p.resolve()), sum(x.numel() for x in m.parameters())]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 0, run.stderr
    import json

    module_file, path, n_params = json.loads(run.stdout.strip().splitlines()[-1])
    assert module_file.startswith(str(site)) and path.startswith(str(site))
    assert n_params == json.loads((BUNDLED / "training.json").read_text())["n_params"]
