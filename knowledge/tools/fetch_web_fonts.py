"""Self-host the web page's fonts from npm ``@fontsource/*`` packages (no CDN at run time).

Usage (from the repository root; needs npm and the npm registry, nothing else):

    # Latin subset (committed, ~4 MB): one woff2 per family/weight used by knowledge/data/font_pairs.json
    .venv/bin/python knowledge/tools/fetch_web_fonts.py latin
    .venv/bin/python knowledge/tools/fetch_web_fonts.py latin --only "Chiron Hei HK"   # add families to the lock
    # CJK (set-up time, run by `make setup`, ~100 MB, NOT committed): the chinese-simplified chunks of the
    # zh-capable families, with unicode-range so a browser downloads only the chunks a page uses
    .venv/bin/python knowledge/tools/fetch_web_fonts.py cjk

Outputs
- ``serve_app/web/fonts/latin/*.woff2``, ``serve_app/web/fonts/fonts.css`` (one @font-face per family/weight)
  and ``serve_app/web/fonts/sources.json`` (package, version, licence per family: the lock the cjk step
  reuses so set-up fetches exactly the recorded versions).
- ``artifacts/web/fonts/cjk/*.woff2`` + ``artifacts/web/fonts/cjk.css`` (ignored; the page falls back to
  system fonts when absent).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from knowledge.fonts import load_font_pairs, load_fonts  # noqa: E402

WEB_FONTS = ROOT / "serve_app" / "web" / "fonts"
SOURCES = WEB_FONTS / "sources.json"
CJK_DEST = ROOT / "artifacts" / "web" / "fonts"
BATCH = 20  # npm pack specs per call: fewer processes, bounded command lines


def fontsource_id(family: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", family.lower()).strip("-")


def used_weights() -> dict[str, set[int]]:
    """family -> weights the pairing library uses (heading and body)."""
    used: dict[str, set[int]] = {}
    for pair in load_font_pairs():
        used.setdefault(pair.heading_family, set()).add(pair.heading_weight)
        used.setdefault(pair.body_family, set()).add(pair.body_weight)
    return used


def npm_pack(specs: list[str], dest: Path) -> dict[str, dict]:
    """Download the tarballs of ``specs`` into ``dest``; package name -> npm's pack report."""
    def pack(batch: list[str]) -> list[dict]:
        out = subprocess.run(["npm", "pack", "--json", "--pack-destination", str(dest), *batch],
                             check=True, capture_output=True, text=True, cwd=dest).stdout
        return json.loads(out)

    reports: dict[str, dict] = {}
    for start in range(0, len(specs), BATCH):
        batch = specs[start:start + BATCH]
        try:
            packed = pack(batch)
        except subprocess.CalledProcessError:
            # One unknown package fails the whole call: retry one by one and skip the missing ones
            # (the page then falls back to the family's generic stack).
            packed = []
            for spec in batch:
                try:
                    packed += pack([spec])
                except subprocess.CalledProcessError:
                    print(f"  not on npm, skipped: {spec}", file=sys.stderr)
        for report in packed:
            reports[report["name"]] = report
        print(f"  packed {min(start + BATCH, len(specs))}/{len(specs)}", file=sys.stderr)
    return reports


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    f = tar.extractfile(f"package/{name}")
    if f is None:
        raise KeyError(name)
    return f.read()


def face(family: str, weight: int, url: str, unicode_range: str | None = None) -> str:
    lines = ["@font-face {", f"  font-family: '{family}';", "  font-style: normal;", "  font-display: swap;",
             f"  font-weight: {weight};", f"  src: url({url}) format('woff2');"]
    if unicode_range:
        lines.append(f"  unicode-range: {unicode_range};")
    return "\n".join(lines + ["}"])


def fetch_latin(only: list[str] | None = None) -> None:
    """Every family the pairs use, or with `only` just those (merged into the committed lock, the others kept
    at their recorded versions)."""
    used = used_weights()
    families = sorted(only or used)
    kept: list[dict] = []
    missing: list[str] = []
    if only:
        lock = json.loads(SOURCES.read_text(encoding="utf-8"))
        kept = [s for s in lock["families"] if s["family"] not in only]
        missing = [f for f in lock["not_on_npm"] if f not in only]
    with tempfile.TemporaryDirectory() as tmp:
        reports = npm_pack([f"@fontsource/{fontsource_id(f)}" for f in families], Path(tmp))
        latin_dir = WEB_FONTS / "latin"
        latin_dir.mkdir(parents=True, exist_ok=True)
        for old in latin_dir.glob("*.woff2"):
            if not only or old.name.startswith(tuple(f"{fontsource_id(f)}-latin-" for f in only)):
                old.unlink()
        sources = []
        for family in families:
            pkg = f"@fontsource/{fontsource_id(family)}"
            report = reports.get(pkg)
            if report is None:
                missing.append(family)
                continue
            with tarfile.open(Path(tmp) / report["filename"]) as tar:
                meta = json.loads(_member(tar, "package.json"))
                files = []
                for weight in sorted(used[family]):
                    name = f"{fontsource_id(family)}-latin-{weight}-normal.woff2"
                    (latin_dir / name).write_bytes(_member(tar, f"files/{name}"))
                    files.append(name)
            sources.append({"family": family, "package": pkg, "version": report["version"],
                            "license": meta.get("license", ""), "zh": load_fonts()[family].covers_zh,
                            "files": files})
    if only:  # merged with the families kept at their recorded versions, in name order as a full run writes them
        sources = sorted(kept + sources, key=lambda s: s["family"])
        missing = sorted(missing)
    # One @font-face per recorded file (families in name order, weights ascending), built once from the lock.
    faces = [face(s["family"], int(re.search(r"-(\d+)-normal\.woff2$", name).group(1)), f"latin/{name}")
             for s in sources for name in s["files"]]
    header = "/* Generated by knowledge/tools/fetch_web_fonts.py from npm @fontsource/* (OFL-1.1 etc.). */\n"
    (WEB_FONTS / "fonts.css").write_text(header + "\n".join(faces) + "\n", encoding="utf-8")
    SOURCES.write_text(json.dumps({"source": "npm @fontsource/*, latin subset", "families": sources,
                                   "not_on_npm": missing},
                                  indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    total = sum(p.stat().st_size for p in (WEB_FONTS / "latin").glob("*.woff2"))
    print(f"{len(faces)} faces of {len(sources)} families ({len(missing)} not on npm), {total / 1e6:.1f} MB -> {WEB_FONTS}")


_FACE = re.compile(r"@font-face\s*{(.*?)}", re.S)


def fetch_cjk(dest: Path) -> None:
    used = used_weights()
    locked = {s["family"]: s for s in json.loads(SOURCES.read_text(encoding="utf-8"))["families"]}
    zh = sorted(f for f in used if load_fonts()[f].covers_zh and f in locked)
    with tempfile.TemporaryDirectory() as tmp:
        reports = npm_pack([f"{locked[f]['package']}@{locked[f]['version']}" for f in zh], Path(tmp))
        out_dir = dest / "cjk"
        out_dir.mkdir(parents=True, exist_ok=True)
        faces = []
        for family in zh:
            with tarfile.open(Path(tmp) / reports[locked[family]["package"]]["filename"]) as tar:
                for weight in sorted(used[family]):
                    # <weight>.css lists every unicode-range chunk of every subset; keep the CJK chunks
                    # (numbered "[n]" files) and the woff2 source only.
                    css = _member(tar, f"{weight}.css").decode("utf-8")
                    for body in _FACE.findall(css):
                        src = re.search(r"url\(\./files/([^)]+\.woff2)\)", body)
                        ur = re.search(r"unicode-range:\s*([^;]+);", body)
                        if not src or not ur or not re.match(r".+-\d+-\d+-normal\.woff2$", src.group(1)):
                            continue
                        name = src.group(1)
                        (out_dir / name).write_bytes(_member(tar, f"files/{name}"))
                        faces.append(face(family, weight, f"cjk/{name}", ur.group(1).strip()))
    (dest / "cjk.css").write_text("\n".join(faces) + "\n", encoding="utf-8")
    total = sum(p.stat().st_size for p in out_dir.glob("*.woff2"))
    print(f"{len(faces)} CJK chunks of {len(zh)} families, {total / 1e6:.1f} MB -> {dest}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["latin", "cjk"])
    parser.add_argument("--dest", type=Path, default=CJK_DEST, help="cjk output folder")
    parser.add_argument("--only", nargs="+", metavar="FAMILY",
                        help="latin: fetch just these families (e.g. ones new in the pairs) into the committed lock")
    args = parser.parse_args()
    fetch_latin(args.only) if args.what == "latin" else fetch_cjk(args.dest)


if __name__ == "__main__":
    main()
