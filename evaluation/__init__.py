"""Held-out quality evaluation of any backend/precision against the teacher (`python -m evaluation`)."""
