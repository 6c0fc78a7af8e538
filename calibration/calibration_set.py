"""The versioned calibration set: 640 briefs, separate from training and held-out briefs.

    python -m calibration.calibration_set     # (re)writes calibration/briefs.jsonl deterministically
"""

from __future__ import annotations

import argparse
from pathlib import Path

from model.briefs import HELDOUT_SIZE, BriefSample, generate_briefs, read_jsonl, write_jsonl
from model.train import N_TRAIN

CALIBRATION_FILE = Path(__file__).resolve().parent / "briefs.jsonl"
N_CALIBRATION = 640


def build() -> list[BriefSample]:
    taken = {s.key() for s in generate_briefs(N_TRAIN, "train")}
    taken |= {s.key() for s in generate_briefs(HELDOUT_SIZE, "heldout")}
    return generate_briefs(N_CALIBRATION, "calibration", exclude=taken)


def load() -> list[BriefSample]:
    return read_jsonl(CALIBRATION_FILE)


def main() -> None:
    # No options: the parser is there so that --help prints this instead of rewriting the file.
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    samples = build()
    write_jsonl(samples, CALIBRATION_FILE)
    print(f"wrote {len(samples)} briefs to {CALIBRATION_FILE}")


if __name__ == "__main__":
    main()
