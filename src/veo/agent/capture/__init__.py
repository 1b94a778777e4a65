"""Screen capture: one interface (``base.py``), one file per platform, a chooser (``auto.py``)."""
