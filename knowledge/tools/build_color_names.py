"""Build knowledge/data/color_names.json from two openly licensed colour-name lists.

Sources (see PROVENANCE.md):
  * xkcd colour survey names, as shipped in matplotlib (``matplotlib._color_data.XKCD_COLORS``, CC0);
    the ``xkcd:`` prefix is stripped.
  * npm package ``color-name-list`` (MIT), file ``dist/colornames.json`` ([{name, hex}, ...]).

Usage (from the repository root; needs npm on PATH and the project venv):

    .venv/bin/python knowledge/tools/build_color_names.py            # npm-packs color-name-list@14.29.0
    .venv/bin/python knowledge/tools/build_color_names.py --package-dir /tmp/cnl/package

The package is unpacked into a temporary directory, never into the repository. Output is
deterministic: rows are sorted by (source, name, hex), OKLab is rounded to 4 decimals.

Output shape::

    {"format": "...", "sources": ["xkcd", "color-name-list"],
     "columns": ["name", "hex", "source_index", "L", "a", "b"],
     "colors": [["cloudy blue", "#acc2d9", 0, 0.8036, -0.0146, -0.0404], ...]}
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from coloraide import Color
from matplotlib import _color_data

ROOT = Path(__file__).resolve().parents[2]
OUT_PATH = ROOT / "knowledge" / "data" / "color_names.json"
COLOR_NAME_LIST_VERSION = "14.29.0"
SOURCES = ["xkcd", "color-name-list"]


def xkcd_colors() -> list[tuple[str, str]]:
    return [(name.removeprefix("xkcd:"), hex_.lower()) for name, hex_ in _color_data.XKCD_COLORS.items()]


def color_name_list(package_dir: Path) -> list[tuple[str, str]]:
    entries = json.loads((package_dir / "dist" / "colornames.json").read_text(encoding="utf-8"))
    return [(entry["name"], entry["hex"].lower()) for entry in entries]


def npm_pack(version: str, workdir: Path) -> Path:
    subprocess.run(["npm", "pack", f"color-name-list@{version}"], cwd=workdir, check=True, capture_output=True)
    (tarball,) = workdir.glob("color-name-list-*.tgz")
    with tarfile.open(tarball) as archive:
        archive.extractall(workdir, filter="data")
    return workdir / "package"


def rows(source_index: int, colors: list[tuple[str, str]]) -> list[list]:
    out = []
    for name, hex_ in sorted(set(colors)):
        l, a, b = Color(hex_).convert("oklab").coords()
        # "+ 0.0" turns -0.0 into 0.0 so greys do not print as "-0.0".
        out.append([name, hex_, source_index, round(l, 4) + 0.0, round(a, 4) + 0.0, round(b, 4) + 0.0])
    return out


def build(package_dir: Path) -> dict:
    return {
        "format": "named colours; OKLab precomputed (coloraide), rounded to 4 decimals",
        "sources": SOURCES,
        "columns": ["name", "hex", "source_index", "L", "a", "b"],
        "colors": rows(0, xkcd_colors()) + rows(1, color_name_list(package_dir)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package-dir", type=Path, help="an unpacked color-name-list npm package")
    parser.add_argument("--out", type=Path, default=OUT_PATH)
    args = parser.parse_args(argv)
    if args.package_dir:
        data = build(args.package_dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            data = build(npm_pack(COLOR_NAME_LIST_VERSION, Path(tmp)))
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # One colour per line keeps diffs reviewable at little size cost.
    text = text.replace("],[", "],\n[")
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(data['colors'])} colours to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
