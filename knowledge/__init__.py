"""Design knowledge: vocabularies, colour names, palettes, fonts, pairings, lexicon, layout templates."""
