"""Synthetic briefs for training, held-out evaluation and calibration, drawn from the knowledge base.

Each split has its own seed, and `generate_briefs` drops any brief whose canonical form already occurs
in the splits passed as `exclude`, so train / held-out / calibration never share a brief.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

from contract.brief import MAX_KEYWORD_CHARS, Brief
from knowledge.colors import load_named_colors
from knowledge.gloss import gloss_run
from knowledge.labels import profile
from knowledge.lexicon import load_lexicon
from knowledge.palettes import load_palettes
from knowledge.taxonomy import Audience, Locale, PackageFormat, ProductCategory, Tone

SPLIT_SEEDS = {"train": 1, "heldout": 2, "calibration": 3}
HELDOUT_SIZE = 1000  # briefs the evaluation holds out (calibration excludes them, so splits never share one)

# Which package formats a category plausibly ships in (others still appear, less often).
_FORMATS: dict[str, list[str]] = {
    "beverage": ["can", "bottle_label", "carton", "pouch"],
    "coffee_tea": ["bag", "box", "can", "pouch", "jar"],
    "snacks": ["bag", "pouch", "box", "can"],
    "confectionery": ["box", "bag", "pouch", "jar"],
    "dairy": ["carton", "bottle_label", "jar", "pouch"],
    "alcohol": ["bottle_label", "can", "box"],
    "cosmetics": ["box", "tube", "jar", "bottle_label"],
    "skincare": ["tube", "jar", "bottle_label", "box"],
    "personal_care": ["bottle_label", "tube", "box", "pouch"],
    "baby_care": ["pouch", "bottle_label", "box", "tube", "jar"],
    "pet_food": ["bag", "can", "pouch", "box"],
    "health_supplements": ["jar", "bottle_label", "box", "pouch"],
    "household_cleaning": ["bottle_label", "pouch", "box"],
    "electronics": ["box"],
    "frozen_food": ["bag", "box", "carton"],
    "condiments": ["jar", "bottle_label", "pouch"],
    "bakery": ["bag", "box", "pouch"],
    "gift_box": ["box"],
}


@dataclass
class BriefSample:
    brief: Brief
    reference_colors: list[str] = field(default_factory=list)  # stands in for a decoded reference image
    terms: list[int] = field(default_factory=list)  # lexicon entry indices behind the keywords
    language: str = "en"  # en | zh | mixed

    def to_json(self) -> dict:
        return {
            "brief": self.brief.model_dump(mode="json", exclude_none=True),
            "reference_colors": self.reference_colors,
            "terms": self.terms,
            "language": self.language,
        }

    @classmethod
    def from_json(cls, data: dict) -> BriefSample:
        return cls(
            brief=Brief.model_validate(data["brief"]),
            reference_colors=list(data.get("reference_colors", [])),
            terms=list(data.get("terms", [])),
            language=data.get("language", "en"),
        )

    def key(self) -> str:
        b = self.brief
        return json.dumps(
            [b.product_category, b.audience, b.tone, b.keywords, b.package_format, b.brand_colors,
             b.locale, self.reference_colors],
            ensure_ascii=False,
        )


def _weighted_pick(rng: random.Random, weights: dict[str, float], k: int, universe: list[str]) -> list[str]:
    """k distinct ids, favouring the prior but leaving every id reachable."""
    pool = {u: 0.15 + weights.get(u, 0.0) for u in universe}
    picked: list[str] = []
    for _ in range(min(k, len(pool))):
        ids, w = zip(*pool.items())
        choice = rng.choices(ids, weights=w)[0]
        picked.append(choice)
        del pool[choice]
    return picked


def render_keywords(term_ids: list[int], language: str, rng: random.Random) -> str:
    lexicon = load_lexicon()
    parts: list[str] = []
    for i in term_ids:
        entry = lexicon[i]
        use_zh = language == "zh" or (language == "mixed" and rng.random() < 0.5)
        parts.append(entry.zh if use_zh else entry.en)
    sep = " " if language == "zh" else ", "
    text = sep.join(parts)
    while len(text) > MAX_KEYWORD_CHARS and parts:
        parts.pop()
        text = sep.join(parts)
    return text


def _one_brief(rng: random.Random) -> BriefSample:
    lexicon = load_lexicon()
    category = rng.choice(list(ProductCategory)).value
    cat_profile = profile("product_category", category)
    audiences = _weighted_pick(rng, {}, rng.choice([0, 1, 1, 2, 2, 3, 4]), [a.value for a in Audience])
    tone_prior = dict(cat_profile.get("tones", {}))
    for audience in audiences:
        for tone, w in profile("audience", audience).get("tones", {}).items():
            tone_prior[tone] = tone_prior.get(tone, 0.0) + 0.5 * w
    tones = _weighted_pick(rng, tone_prior, rng.choice([0, 1, 1, 1, 2, 2, 3, 4]), [t.value for t in Tone])
    formats = _FORMATS[category] if rng.random() < 0.85 else [f.value for f in PackageFormat]
    package_format = rng.choice(formats)

    # Keywords: mostly lexicon terms that agree with the chosen tones, sometimes anything.
    n_terms = rng.choice([0, 1, 2, 2, 3, 3, 4, 5, 6, 8])
    related = [i for i, e in enumerate(lexicon) if set(e.tones) & set(tones) or category in e.categories]
    terms: list[int] = []
    for _ in range(n_terms):
        pool = related if related and rng.random() < 0.65 else range(len(lexicon))
        term = rng.choice(list(pool))
        if term not in terms:
            terms.append(term)
    language = rng.choices(["en", "zh", "mixed"], weights=[0.45, 0.35, 0.2])[0]
    keywords = render_keywords(terms, language, rng)

    named = load_named_colors()
    n_brand = rng.choices([0, 1, 2, 3], weights=[0.5, 0.3, 0.12, 0.08])[0]
    brand_colors = [named.hexes[rng.randrange(len(named.hexes))] for _ in range(n_brand)]
    reference_colors: list[str] = []
    if rng.random() < 0.2:  # a reference image's dominant colours look like a real palette's
        palette = rng.choice(load_palettes())
        reference_colors = [c.hex for c in palette.colors][:3]
    locale = Locale.zh if (language == "zh" or (language == "mixed" and rng.random() < 0.5)) else Locale.en
    brief = Brief(
        product_category=category,
        audience=audiences,
        tone=tones,
        keywords=keywords,
        package_format=package_format,
        brand_colors=brand_colors,
        num_schemes=rng.randint(1, 8),
        locale=locale,
    )
    return BriefSample(brief=brief, reference_colors=reference_colors, terms=terms, language=language)


def generate_briefs(n: int, split: str, exclude: set[str] | None = None) -> list[BriefSample]:
    rng = random.Random(SPLIT_SEEDS[split])
    seen = set(exclude or ())
    samples: list[BriefSample] = []
    while len(samples) < n:
        sample = _one_brief(rng)
        key = sample.key()
        if key not in seen:
            seen.add(key)
            samples.append(sample)
    return samples


def in_language(sample: BriefSample, language: str) -> BriefSample:
    """The same brief with its lexicon terms written in another language (for zh-vs-en agreement)."""
    rng = random.Random(0)
    brief = sample.brief.model_copy(
        update={
            "keywords": render_keywords(sample.terms, language, rng),
            "locale": Locale.zh if language == "zh" else Locale.en,
        }
    )
    return BriefSample(brief=brief, reference_colors=sample.reference_colors, terms=sample.terms, language=language)


# Words that name no design property: a brief with or without them asks for the same palettes and type.
FILLER_WORDS = ("packaging", "package design", "design", "product", "new", "series", "brand", "range")
# How people join keywords in a brief: lists, runs, and sentence-like phrases ("lime with mint for summer").
CONNECTORS = (", ", ", ", " ", " and ", " with ", " for ")
GLOSS_SHARE = 0.4  # terms written as the dictionary glosses their Chinese form (the runtime's path for zh it misses)


def paraphrase_keywords(sample: BriefSample, rng: random.Random) -> str:
    """The sample's lexicon terms reworded without changing what they name, for paraphrase-robust training: each
    term in its lexicon English or (GLOSS_SHARE) as CC-CEDICT glosses its Chinese form (香槟金 -> "champagne gold",
    少女 -> "girl"), in shuffled order, joined by varied connectors, with filler words that carry no design meaning.
    A brief without terms is returned unchanged (filler would turn keyword-less into keyword-bearing)."""
    if not sample.terms:
        return sample.brief.keywords
    lexicon = load_lexicon()
    parts: list[str] = []
    for i in sample.terms:
        entry = lexicon[i]
        glossed = gloss_run(entry.zh)
        words = [gloss for _, gloss in glossed.words if gloss]
        use_gloss = words and not glossed.unknown and rng.random() < GLOSS_SHARE
        parts.append(" ".join(words) if use_gloss else entry.en)
    if rng.random() < 0.6:
        rng.shuffle(parts)
    for _ in range(rng.choice([0, 1, 1, 2])):
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(FILLER_WORDS))
    text = parts[0]
    for part in parts[1:]:
        joined = text + rng.choice(CONNECTORS) + part
        if len(joined) > MAX_KEYWORD_CHARS:
            break
        text = joined
    return text


def write_jsonl(samples: list[BriefSample], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for s in samples:
            out.write(json.dumps(s.to_json(), ensure_ascii=False, sort_keys=True) + "\n")


def read_jsonl(path: Path) -> list[BriefSample]:
    with path.open(encoding="utf-8") as src:
        return [BriefSample.from_json(json.loads(line)) for line in src if line.strip()]
