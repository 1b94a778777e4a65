"""``python -m veo`` behaves exactly like the ``veo`` command."""

from veo.cli import main

raise SystemExit(main())
