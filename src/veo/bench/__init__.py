"""``veo bench``: measure veo on this machine with realistic data (never a timed test assertion)."""
