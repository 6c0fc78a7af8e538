"""zh/en parity on the development pairs (`evaluation/parity/dev_pairs.json`), with the ceilings that separate what
the request path can fix from what it cannot (issue 15, "Chinese parity").

    python -m evaluation.parity_dev

The held-out hand-translated pairs (`pairs.json`, graded by `python -m evaluation`) stay unread here, so request-path
changes are chosen on these pairs and checked once on those. Rows, each graded as `parity_metrics` grades the
held-out pairs (styles of the answered schemes, the model's top-5 palettes):
- en vs zh: each brief as its user would send it (the graded comparison);
- en vs en, zh locale: the same English text with the zh locale, what the locale flag alone costs;
- en vs en_back, zh locale: a fluent English back-translation of the Chinese sent as a zh brief, roughly the best any
  zh -> en translation of the keywords could reach;
- en_back vs zh: how far the runtime's gloss is from that translation.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from contract.brief import Brief
from evaluation.__main__ import PARITY_SCHEMES, answer_schemes, parity_metrics, run_model
from inference.base import InferenceBackend
from knowledge.taxonomy import Locale
from model.briefs import BriefSample

DEV_PAIRS_PATH = Path(__file__).parent / "parity" / "dev_pairs.json"


def dev_samples(text: str, locale: str) -> list[BriefSample]:
    """The dev pairs as briefs with the keywords of field `text` (en, zh, en_back) under `locale`."""
    pairs = json.loads(DEV_PAIRS_PATH.read_text(encoding="utf-8"))["pairs"]
    return [BriefSample(brief=Brief(product_category=p["category"], package_format=p["package"], tone=p["tones"],
                                    keywords=p[text], num_schemes=PARITY_SCHEMES, locale=Locale(locale)),
                        language=locale) for p in pairs]


def dev_parity(backend: InferenceBackend) -> dict[str, dict[str, float]]:
    """row label -> parity_metrics of that comparison."""
    runs = {}
    for text, locale in (("en", "en"), ("zh", "zh"), ("en", "zh"), ("en_back", "zh")):
        samples = dev_samples(text, locale)
        encoded, outputs = run_model(backend, samples)
        runs[text, locale] = (answer_schemes(samples, encoded, outputs), outputs)

    def compare(a, b):
        return parity_metrics(runs[a][0], runs[b][0], runs[a][1], runs[b][1])

    return {"en vs zh": compare(("en", "en"), ("zh", "zh")),
            "en vs en, zh locale": compare(("en", "en"), ("en", "zh")),
            "en vs en_back, zh locale": compare(("en", "en"), ("en_back", "zh")),
            "en_back vs zh (both zh locale)": compare(("en_back", "zh"), ("zh", "zh"))}


def main() -> None:
    # No options: the parser is there so that --help prints this instead of running the job.
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    from inference.onnxruntime_backend import OnnxRuntimeBackend

    rows = dev_parity(OnnxRuntimeBackend(precision="fp32"))
    n = len(dev_samples("en", "en"))
    print(f"zh/en parity, {n} development pairs (evaluation/parity/dev_pairs.json)")
    print("| comparison | style sets Jaccard >= 0.5 | palette top-5 overlap >= 0.8 | both |")
    print("|---|---|---|---|")
    for label, m in rows.items():
        print(f"| {label} | {m['zh_en_style_jaccard_ok']:.3f} | {m['zh_en_palette_top5_ok']:.3f} | "
              f"{m['zh_en_parity']:.3f} |")


if __name__ == "__main__":
    main()
