"""The fixed vocabularies of a brief and of a design scheme.

The ids are part of the public contract (clients store them): values may be added, never renamed.
Labels (en/zh), descriptions and design profiles for each id live in ``data/taxonomy.json``.
"""

from __future__ import annotations

from enum import StrEnum


class ProductCategory(StrEnum):
    beverage = "beverage"
    coffee_tea = "coffee_tea"
    snacks = "snacks"
    confectionery = "confectionery"
    dairy = "dairy"
    alcohol = "alcohol"
    cosmetics = "cosmetics"
    skincare = "skincare"
    personal_care = "personal_care"
    baby_care = "baby_care"
    pet_food = "pet_food"
    health_supplements = "health_supplements"
    household_cleaning = "household_cleaning"
    electronics = "electronics"
    frozen_food = "frozen_food"
    condiments = "condiments"
    bakery = "bakery"
    gift_box = "gift_box"


class Audience(StrEnum):
    gen_z = "gen_z"
    young_women = "young_women"
    young_men = "young_men"
    families = "families"
    kids = "kids"
    seniors = "seniors"
    professionals = "professionals"
    luxury_buyers = "luxury_buyers"
    fitness = "fitness"
    eco_conscious = "eco_conscious"
    students = "students"


class Tone(StrEnum):
    morandi = "morandi"
    pastel = "pastel"
    vivid = "vivid"
    neon = "neon"
    earthy = "earthy"
    monochrome = "monochrome"
    metallic_luxury = "metallic_luxury"
    vintage = "vintage"
    minimalist = "minimalist"
    natural_organic = "natural_organic"
    cute = "cute"
    tech_futuristic = "tech_futuristic"
    guochao = "guochao"
    japanese_minimal = "japanese_minimal"
    bold = "bold"
    elegant = "elegant"
    fresh = "fresh"
    warm = "warm"


class PackageFormat(StrEnum):
    box = "box"
    can = "can"
    bottle_label = "bottle_label"
    pouch = "pouch"
    jar = "jar"
    tube = "tube"
    bag = "bag"
    carton = "carton"


class Style(StrEnum):
    minimalist = "minimalist"
    luxury_premium = "luxury_premium"
    playful_cute = "playful_cute"
    natural_organic = "natural_organic"
    vintage_retro = "vintage_retro"
    tech_futuristic = "tech_futuristic"
    bold_typographic = "bold_typographic"
    hand_drawn = "hand_drawn"
    guochao = "guochao"
    japanese_wabi_sabi = "japanese_wabi_sabi"
    pastel_soft = "pastel_soft"
    vibrant_pop = "vibrant_pop"
    elegant_classic = "elegant_classic"
    clinical_clean = "clinical_clean"


class LayoutElement(StrEnum):
    logo = "logo"
    product_name = "product_name"
    hero = "hero"
    claims = "claims"


class PaletteRole(StrEnum):
    background = "background"
    primary = "primary"
    secondary = "secondary"
    accent = "accent"
    highlight = "highlight"
    text = "text"


class Harmony(StrEnum):
    monochromatic = "monochromatic"
    analogous = "analogous"
    complementary = "complementary"
    split_complementary = "split_complementary"
    triadic = "triadic"
    tetradic = "tetradic"
    neutral_accent = "neutral_accent"
    curated = "curated"


class Locale(StrEnum):
    en = "en"
    zh = "zh"


# Order matters: it fixes the index of each id in model inputs/outputs.
VOCABULARIES: dict[str, type[StrEnum]] = {
    "product_category": ProductCategory,
    "audience": Audience,
    "tone": Tone,
    "package_format": PackageFormat,
    "style": Style,
    "layout_element": LayoutElement,
    "palette_role": PaletteRole,
    "harmony": Harmony,
}


def ids(vocabulary: str) -> list[str]:
    """The ids of one vocabulary, in their fixed order."""
    return [member.value for member in VOCABULARIES[vocabulary]]
