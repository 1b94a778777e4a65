"""The bench's network lab for an e2e test: a work directory, its processes, the two namespaces.

One lifecycle for the bench tests (tigervnc, portal, scenarios) instead of a copy in each fixture:
made, opened, and on the way out every process stopped, the namespaces removed, the directory gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from veo.bench.stream.lab import Lab
from veo.bench.stream.procs import Processes


@contextmanager
def bench_lab(name: str, tag: str) -> Iterator[tuple[Lab, Processes, Path]]:
    """An open lab in a new ``veo-bench-<name>-`` directory; ``tag`` + pid names its namespaces."""
    workdir = Path(tempfile.mkdtemp(prefix=f"veo-bench-{name}-"))
    procs = Processes(workdir)
    lab = Lab(procs, tag=f"{tag}{os.getpid()}")
    try:
        lab.open()
        yield lab, procs, workdir
    finally:
        procs.stop_all()
        lab.close()
        shutil.rmtree(workdir, ignore_errors=True)
