"""How long a fresh process takes to load the shipped knowledge (reported here, never asserted in tests).

    .venv/bin/python -m benchmarks.knowledge_load [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks import positive_int
from knowledge import fonts, lexicon, palettes


def _fresh_palettes() -> None:
    palettes.load_palettes.cache_clear()
    palettes.palette_attribute_matrix.cache_clear()
    palettes.load_palettes()


def _fresh_fonts() -> None:
    fonts.clear_caches()
    fonts.load_fonts()
    fonts.load_font_pairs()
    fonts.expressive_tag_names()


def _lexicon_call() -> None:
    lexicon.normalize_keywords("夏季限定清爽果味气泡水，零糖低卡，国潮风格包装，中国红配烫金 refreshing summer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=positive_int, default=5)
    args = parser.parse_args()
    for name, load in (("palettes", _fresh_palettes), ("fonts + pairs + tags", _fresh_fonts),
                       ("lexicon normalise (one 60-char brief)", _lexicon_call)):
        load()  # first call: imports, trie build
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            load()
            times.append((time.perf_counter() - start) * 1000)
        print(f"{name:40s} median {statistics.median(times):8.2f} ms  max {max(times):8.2f} ms  ({args.repeats} runs)")


if __name__ == "__main__":
    main()
