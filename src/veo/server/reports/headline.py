"""The reports page's first words: how much faster tickets with a remote session are resolved.

That is the promise veo is bought for, so the page opens with it as a sentence a support lead
can repeat ("Tickets with a remote session were resolved in a median of 2 h 10 min, 3 h 05 min
faster than those without (5 h 15 min)."), a two-bar chart, and the counts behind the medians,
before any table. With too few resolved tickets on either side a median says little, so the
sentence then says what is missing instead of a figure.
"""

from __future__ import annotations

from dataclasses import dataclass

from veo.server.lang import _, ngettext
from veo.server.reports import formatting as fmt
from veo.server.reports.charts import Chart, Item, bars
from veo.server.reports.compute import GroupStats, Report

#: Resolved tickets each side needs before its median is compared.
MIN_TICKETS = 5
#: Medians closer than this are "the same" (a minute is below what anyone would act on).
SAME_SECONDS = 60


@dataclass(frozen=True)
class Headline:
    #: "faster", "slower", "same" or "not_enough" (for tests and styling; never shown)
    outcome: str
    sentence: str
    #: the counts behind the medians, or what the comparison waits for
    detail: str
    chart: Chart | None


def _sides(report: Report) -> tuple[GroupStats, GroupStats]:
    groups = {g.key: g for g in report.session_comparison}
    return groups["with_session"], groups["without_session"]


def _not_enough(with_n: int, without_n: int) -> Headline:
    if with_n == 0 and without_n == 0:
        sentence = _(
            "No ticket created in this period has been resolved yet, so there is nothing to compare."
        )
    else:
        sentence = _(
            "Not enough resolved tickets yet to compare those with a remote session and those without: "
            "%(with_n)s with and %(without_n)s without."
        ) % {"with_n": fmt.number(with_n, 0), "without_n": fmt.number(without_n, 0)}
    detail = ngettext(
        "The comparison appears once each side has at least %(min)s resolved ticket.",
        "The comparison appears once each side has at least %(min)s resolved tickets.",
        MIN_TICKETS,
    ) % {"min": fmt.number(MIN_TICKETS, 0)}
    return Headline("not_enough", sentence, detail, None)


def headline(report: Report) -> Headline:
    with_session, without = _sides(report)
    with_median, without_median = with_session.resolution.median, without.resolution.median
    if (
        with_session.tickets < MIN_TICKETS
        or without.tickets < MIN_TICKETS
        or with_median is None
        or without_median is None
    ):
        return _not_enough(with_session.tickets, without.tickets)
    values = {
        "with": fmt.duration(with_median),
        "without": fmt.duration(without_median),
        "difference": fmt.duration(abs(without_median - with_median)),
    }
    if abs(without_median - with_median) < SAME_SECONDS:
        outcome = "same"
        sentence = (
            _(
                "Tickets with a remote session were resolved in a median of %(with)s, "
                "the same as those without."
            )
            % values
        )
    elif with_median < without_median:
        outcome = "faster"
        sentence = (
            _(
                "Tickets with a remote session were resolved in a median of %(with)s, "
                "%(difference)s faster than those without (%(without)s)."
            )
            % values
        )
    else:
        outcome = "slower"
        sentence = (
            _(
                "Tickets with a remote session took a median of %(with)s to resolve, "
                "%(difference)s longer than those without (%(without)s)."
            )
            % values
        )
    detail = ngettext(
        "Medians of %(with_n)s resolved ticket with a remote session and %(without_n)s without, "
        "created from %(start)s to %(end)s.",
        "Medians of %(with_n)s resolved tickets with a remote session and %(without_n)s without, "
        "created from %(start)s to %(end)s.",
        with_session.tickets,
    ) % {
        "with_n": fmt.number(with_session.tickets, 0),
        "without_n": fmt.number(without.tickets, 0),
        "start": fmt.day(report.period.start),
        "end": fmt.day(report.period.end),
    }
    chart = bars(
        "chart-headline",
        _("Median time to resolution, with and without a remote session"),
        [
            Item(_("With a remote session"), with_median / 3600, fmt.duration(with_median)),
            Item(_("Without a remote session"), without_median / 3600, fmt.duration(without_median)),
        ],
        value_width=110,
    )
    return Headline(outcome, sentence, detail, chart)
