"""End-to-end tests: Xvfb + test application + ``veo server`` + ``veo agent`` + headless Chromium.

Everything runs inside a private network namespace that the harness creates (``netns.py``), so
nothing leaves the machine and aioice sees a non-loopback host address (field note 1).
"""
