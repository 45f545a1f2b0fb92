"""Build step (setuptools `build_py`, named in pyproject.toml): put the bundled checkpoint into the package.

Why at build time: the repository keeps one copy of the weights, in resources/models/ where the
workflow and docs point; a wheel (and so a plain `pip install .`) gets its own copy under
dnalens/models/bundled/, which `bundled_path()` finds from any working directory. Editable installs
read the source tree and need no copy. Loaded by file path at build time: stdlib + setuptools only.
The config schema (workflow/schemas/config.schema.yaml), which every settings dataclass takes its defaults
from, is copied the same way to dnalens/schemas/ (found by `dnalens.settings.schema_path`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools.command.build_py import build_py

BUNDLED = ("dnalens-tiny-bacteria",)
SOURCE = Path("resources") / "models"
TARGET = Path("dnalens") / "models" / "bundled"
SCHEMA = Path("workflow") / "schemas" / "config.schema.yaml"
SCHEMA_TARGET = Path("dnalens") / "schemas"


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        if SCHEMA.is_file():
            (Path(self.build_lib) / SCHEMA_TARGET).mkdir(parents=True, exist_ok=True)
            shutil.copy2(SCHEMA, Path(self.build_lib) / SCHEMA_TARGET / SCHEMA.name)
        else:
            self.warn(
                f"{SCHEMA} not found: settings defaults will be missing (an sdist needs "
                "`include workflow/schemas/config.schema.yaml` in MANIFEST.in)"
            )
        for name in BUNDLED:
            src = SOURCE / name
            if not (src / "model.safetensors").exists():
                self.warn(
                    f"{src}/model.safetensors not found: the bundled model is not packaged "
                    "(an sdist needs `graft resources/models` in MANIFEST.in)"
                )
                continue
            dest = Path(self.build_lib) / TARGET / name
            dest.mkdir(parents=True, exist_ok=True)
            for f in sorted(src.iterdir()):
                if f.is_file() and not f.name.startswith("."):
                    shutil.copy2(f, dest / f.name)
