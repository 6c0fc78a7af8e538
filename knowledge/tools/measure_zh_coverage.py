"""Measure how much of Simplified Chinese a web font really renders -> knowledge/data/zh_font_coverage.json.

Google Fonts marks a family "chinese-simplified" only when it is sliced for SC; several traditional-Chinese (TC)
families carry nearly every simplified character too. This measures it from the files the page would serve:
the union of the cmaps of every ``files/*-<weight>-normal.woff`` chunk of an npm ``@fontsource/<id>`` tarball
(all subsets; the .woff twin of each .woff2, readable by fontTools without brotli), against the 3,755
characters of GB2312 level 1 (the everyday hanzi; Python's gb2312 codec, rows 0xB0-0xD7).

    npm pack @fontsource/cactus-classical-serif@5.3.0 ...   # into DIR
    .venv/bin/python knowledge/tools/measure_zh_coverage.py DIR/*.tgz

A family whose share is >= knowledge.fonts.ZH_MIN_COVERAGE counts as covering zh (FontFamily.covers_zh).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tarfile
from pathlib import Path

from fontTools.ttLib import TTFont

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from knowledge.fonts import ZH_COVERAGE_PATH, load_fonts  # noqa: E402

WEIGHT = 400


def gb2312_level1() -> list[str]:
    chars = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # the unassigned tail of row 0xD7
    return chars


def measure(tarball: Path, chars: list[str]) -> dict:
    with tarfile.open(tarball) as tar:
        meta = json.loads(tar.extractfile("package/package.json").read())
        pattern = re.compile(rf"package/files/.+-{WEIGHT}-normal\.woff$")
        codepoints: set[int] = set()
        files = 0
        for member in tar.getmembers():
            if pattern.match(member.name):
                codepoints |= set(TTFont(io.BytesIO(tar.extractfile(member).read())).getBestCmap())
                files += 1
    covered = sum(ord(c) in codepoints for c in chars)
    return {"package": meta["name"], "version": meta["version"], "license": meta.get("license", ""),
            "weight": WEIGHT, "files": files, "covered": covered, "share": round(covered / len(chars), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarballs", nargs="+", type=Path)
    args = parser.parse_args()
    chars = gb2312_level1()
    by_id = {re.sub(r"[^a-z0-9]+", "-", f.lower()).strip("-"): f for f in load_fonts()}
    families = {}
    for tarball in sorted(args.tarballs):
        result = measure(tarball, chars)
        families[by_id[result["package"].split("/")[-1]]] = result
    out = {"characters": f"GB2312 level 1 ({len(chars)} hanzi)", "generator": "knowledge/tools/measure_zh_coverage.py",
           "families": dict(sorted(families.items()))}
    ZH_COVERAGE_PATH.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, r in out["families"].items():
        print(f"{name}: {r['covered']}/{len(chars)} = {r['share']}")


if __name__ == "__main__":
    main()
