"""Numbers, durations and dates in the reader's language (Babel), for the page and its charts.

Durations are stored in seconds; people read times to first response in minutes and times to
resolution in hours, so each chart and column says its unit once instead of on every number.
The CSV and the API keep seconds and plain decimals: they are for programs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

from veo.server.lang import _, get_language, ngettext

DASH = "—"
NBSP = "\u00a0"


def number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return DASH
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=get_language())


def minutes(seconds: float | None) -> str:
    return DASH if seconds is None else number(seconds / 60)


def hours(seconds: float | None) -> str:
    return DASH if seconds is None else number(seconds / 3600)


def duration(seconds: float | None) -> str:
    """A time span as people read it at a glance: ``45 min``, ``2 h 05 min``, ``3 days 4 h``.

    The spaces are non-breaking: a sentence may wrap around a duration, never through it.
    """
    return DASH if seconds is None else _duration(seconds).replace(" ", NBSP)


def _duration(seconds: float) -> str:
    total = max(0, round(seconds / 60))
    if total < 60:
        return _("%(minutes)s min") % {"minutes": number(total, 0)}
    hours, minutes = divmod(total, 60)
    if hours < 48:
        return _("%(hours)s h %(minutes)s min") % {"hours": number(hours, 0), "minutes": f"{minutes:02d}"}
    days, hours = divmod(hours, 24)
    return ngettext("%(days)s day %(hours)s h", "%(days)s days %(hours)s h", days) % {
        "days": number(days, 0),
        "hours": number(hours, 0),
    }


def percent(fraction: float | None) -> str:
    if fraction is None:
        return DASH
    # The locale's own pattern (``50 %`` in Spanish), showing up to one decimal of the percentage.
    return format_percent(round(fraction, 3), locale=get_language(), decimal_quantization=False)


def day(value: date) -> str:
    return format_date(value, format="medium", locale=get_language())


def short_day(value: date) -> str:
    """A week's Monday as a compact axis label (``d MMM``)."""
    return format_date(value, format="d MMM", locale=get_language())


def moment(value: datetime) -> str:
    """A date and time, in UTC as every time veo stores."""
    return format_datetime(value, format="medium", tzinfo=UTC, locale=get_language()) + " UTC"


def week(key: str) -> str:
    """A weekly group's key (its Monday, ISO) as a date in the reader's language."""
    return day(date.fromisoformat(key))


FORMATTERS = {
    "fmt_number": number,
    "fmt_minutes": minutes,
    "fmt_hours": hours,
    "fmt_duration": duration,
    "fmt_percent": percent,
    "fmt_day": day,
    "fmt_short_day": short_day,
    "fmt_week": week,
    "fmt_moment": moment,
}
