"""Print where a finished run put its tables, tracks and report (the last lines of `make demo`)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

OUTPUTS = ("report.html", "features.tsv", "feature_concepts.tsv", "top_windows.tsv", "tracks", "windows.bed")


def main(configfile: str) -> int:
    config = yaml.safe_load(Path(configfile).read_text())
    for genome in sorted(config.get("genomes", {})):
        root = Path("results") / genome
        found = [root / name for name in OUTPUTS if (root / name).exists()]
        print(f"{genome}:")
        for path in found:
            print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "config/config.yaml"))
