"""Learning a tenant's taste from designers' choose / reject events (the feedback log): pairwise logistic
regression over `pipeline.taste` features, written as a versioned artefact that the ingress loads through
Serve's `user_config` (see docs/learning.md). `python -m learning --db artifacts/feedback.sqlite3`."""
