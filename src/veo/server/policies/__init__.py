"""Roles and their policies: what each role may request, and which checks it must pass."""
