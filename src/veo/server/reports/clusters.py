"""Recurring problems: groups of tickets whose titles and descriptions say the same thing.

Text similarity is scikit-learn's TF-IDF (words with accents folded, English and Spanish stop words
dropped, cut to a common stem; sublinear term frequency) with cosine distance; the groups come from
agglomerative clustering with average linkage and a distance threshold, so nobody has to guess
how many problems there are. The input is bounded (the most recent :data:`MAX_TICKETS` of the
period) because the distance matrix grows with the square of it.

scikit-learn (and the SciPy it brings) is imported inside :func:`find_clusters` and
:func:`stop_words`, not with this module: it was about 40 % of the server's import time, paid by
every ``veo server`` start (and every test that starts one) while only a report that clusters
tickets needs it. ``tests/unit/server/test_startup_imports.py`` keeps it that way.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache

import numpy as np

from veo.server.reports.rows import TicketRow, week_of

MAX_TICKETS = 1000
#: Average cosine distance under which tickets count as the same problem.
DISTANCE_THRESHOLD = 0.8
MIN_SIZE = 2
MAX_CLUSTERS = 10
#: Tickets listed per cluster (the size counts them all).
MAX_LISTED = 25
SPANISH_STOP_WORDS = frozenset(
    re.split(
        r"\s+",
        "a al algo como con de del desde el ella en es esta este esto hay la las le lo los me mi mis muy no "
        "nos o para pero por que se ser si sin sobre su sus te tiene un una uno unos y ya yo cuando cada "
        "otra otro hace puedo puede estan estoy",
    )
)
STEM = 5
_WORD = re.compile(r"[^\W\d_]{2,}")


@cache
def stop_words() -> frozenset[str]:
    """scikit-learn's English stop words and :data:`SPANISH_STOP_WORDS`, built on first use.

    A function rather than a constant so that importing this module does not import scikit-learn.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # type: ignore[import-untyped]

    return frozenset(ENGLISH_STOP_WORDS | SPANISH_STOP_WORDS)


@dataclass(frozen=True)
class ClusterTicket:
    id: int
    title: str


@dataclass(frozen=True)
class Cluster:
    #: The words that weigh most in the group, as a readable label.
    terms: list[str]
    size: int
    tickets: list[ClusterTicket]
    #: one count per week of the report, in order
    trend: list[int]


def _words(text: str) -> list[str]:
    """Lower-case words without accents or stop words, cut to a common stem.

    Cutting every word to its first :data:`STEM` letters is a crude stemmer, but it is language
    neutral and makes "connect", "connection" and "connecting" (or "conectar", "conecta") one term.
    """
    return [word[:STEM] for word in _full_words(text)]


@lru_cache(maxsize=4 * MAX_TICKETS)
def _full_words(text: str) -> tuple[str, ...]:
    """Cached: a cluster's texts are read twice (vectors, labels) and help desks repeat themselves."""
    lowered = text.lower()
    if lowered.isascii():  # nothing to fold (NFKD leaves ASCII alone)
        plain = lowered
    else:
        folded = unicodedata.normalize("NFKD", lowered)
        plain = "".join(c for c in folded if not unicodedata.combining(c))
    stop = stop_words()
    return tuple(word for word in _WORD.findall(plain) if word not in stop)


def _readable(stems: list[str], texts: list[str]) -> list[str]:
    """Each stem shown as the whole word it most often came from in the group's tickets."""
    seen: dict[str, Counter[str]] = {stem: Counter() for stem in stems}
    for text in texts:
        for word in _full_words(text):
            if word[:STEM] in seen:
                seen[word[:STEM]][word] += 1
    return [seen[stem].most_common(1)[0][0] if seen[stem] else stem for stem in stems]


def _text(ticket: TicketRow) -> str:
    # The title says what the problem is; counting it twice keeps long descriptions from drowning it.
    return f"{ticket.title} {ticket.title} {ticket.description}"


def find_clusters(
    tickets: Sequence[TicketRow], weeks: list[date], *, threshold: float = DISTANCE_THRESHOLD
) -> list[Cluster]:
    """The recurring problems among ``tickets``, largest first (groups of at least two)."""
    recent = sorted(tickets, key=lambda t: (t.created_at, t.id), reverse=True)[:MAX_TICKETS]
    if len(recent) < MIN_SIZE:
        return []
    from sklearn.cluster import AgglomerativeClustering  # type: ignore[import-untyped]
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
    from sklearn.metrics.pairwise import cosine_distances  # type: ignore[import-untyped]

    vectorizer = TfidfVectorizer(analyzer=_words, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform([_text(t) for t in recent])
    except ValueError:  # no words at all (empty or stop words only)
        return []
    distances = cosine_distances(matrix)
    # A ticket with no words is at distance 1 from everything; keep it out of every group.
    labels = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=threshold
    ).fit_predict(distances)
    terms = np.asarray(vectorizer.get_feature_names_out())
    week_index = {week: i for i, week in enumerate(weeks)}
    sizes = Counter(int(label) for label in labels)
    clusters: list[Cluster] = []
    for label, size in sizes.most_common():
        if size < MIN_SIZE or len(clusters) == MAX_CLUSTERS:
            break
        members = [i for i, value in enumerate(labels) if value == label]
        centroid = np.asarray(matrix[members].mean(axis=0)).ravel()
        top = [str(terms[i]) for i in centroid.argsort()[::-1][:3] if centroid[i] > 0]
        trend = [0] * len(weeks)
        for i in members:
            position = week_index.get(week_of(recent[i].created_at))
            if position is not None:
                trend[position] += 1
        listed = sorted((recent[i] for i in members), key=lambda t: t.id)
        clusters.append(
            Cluster(
                terms=_readable(top, [_text(recent[i]) for i in members]),
                size=size,
                tickets=[ClusterTicket(t.id, t.title) for t in listed[:MAX_LISTED]],
                trend=trend,
            )
        )
    return clusters
