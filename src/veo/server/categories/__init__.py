"""The admin-managed list of ticket categories (what kind of problem), used by filters and reports."""
