"""TMS treatment courses: runs of session dates at most ``gap`` days apart."""

from __future__ import annotations

import datetime as _dt
from bisect import bisect_left
from typing import Sequence


def course_bounds(dates: Sequence[_dt.date], d: _dt.date, gap: int) -> tuple[_dt.date, _dt.date]:
    """(first, last) date of the course holding ``d``.

    ``dates``: distinct dates in ascending order, ``d`` among them; a course
    is a run of them in which each is at most ``gap`` days after the one
    before."""
    i = bisect_left(dates, d)
    j = i
    while j > 0 and (dates[j] - dates[j - 1]).days <= gap:
        j -= 1
    k = i
    while k + 1 < len(dates) and (dates[k + 1] - dates[k]).days <= gap:
        k += 1
    return dates[j], dates[k]
