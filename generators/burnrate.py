"""Multi-window, multi-burn-rate alerting: which windows and factors suit an attainment target.

An attainment target of 95 % leaves an *error budget* of 5 % of cases over the SLO period. The
*burn rate* is how fast that budget is spent: the error ratio divided by the budget, so a burn
of 1 spends exactly the budget over the period. Google's SRE workbook pages when 2 % of a 30-day
budget burns in one hour (a burn of 14.4) or 5 % in six hours (6), and opens a ticket when 10 %
burns in a day (3) or three days (1); each alert also needs a short window (1/12 of the long
one) to be burning still, so it stops soon after the problem does.

Customer service is where that table breaks. The error ratio cannot exceed 1, so the burn rate
cannot exceed ``1 / (1 - target)``: 10 for the 90 % special-period standard, which a 14.4x page
can never reach. :func:`plan` finds such combinations and, as asked, lowers their factor to a
share of the largest possible burn (``adapt``) or drops them (``refuse``), and says so in each
alert's ``note`` so that the generated rule file can state it.

Pure: no I/O, no clocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

__all__ = [
    "DEFAULT_PERIOD",
    "WORKBOOK_WINDOWS",
    "BurnAlert",
    "BurnPlan",
    "BurnRateError",
    "Mode",
    "Severity",
    "Window",
    "error_threshold",
    "max_burn",
    "plan",
    "prometheus_duration",
]

Severity = Literal["page", "ticket"]
Mode = Literal["adapt", "refuse"]

#: The SLO period the budget is counted over.
DEFAULT_PERIOD = timedelta(days=30)


class BurnRateError(ValueError):
    """A target or window set for which no burn-rate alert makes sense."""


@dataclass(frozen=True)
class Window:
    """One row of the workbook's table: spend ``budget_share`` of the budget within ``long``."""

    severity: Severity
    long: timedelta
    short: timedelta
    budget_share: float

    def factor(self, period: timedelta = DEFAULT_PERIOD) -> float:
        """The burn rate that spends ``budget_share`` of the period's budget within ``long``.

        >>> round(WORKBOOK_WINDOWS[0].factor(), 2)
        14.4
        """
        return self.budget_share * (period / self.long)


#: The SRE workbook's recommendation for a 30-day period: two pages, two tickets.
WORKBOOK_WINDOWS: tuple[Window, ...] = (
    Window("page", timedelta(hours=1), timedelta(minutes=5), 0.02),
    Window("page", timedelta(hours=6), timedelta(minutes=30), 0.05),
    Window("ticket", timedelta(days=1), timedelta(hours=2), 0.10),
    Window("ticket", timedelta(days=3), timedelta(hours=6), 0.10),
)


def max_burn(target: float) -> float:
    """The largest burn rate an attainment target allows: every case breaching.

    >>> round(max_burn(0.9), 6)
    10.0
    """
    _check_target(target)
    return 1.0 / (1.0 - target)


def error_threshold(factor: float, target: float) -> float:
    """The error ratio above which the burn rate exceeds ``factor``.

    >>> round(error_threshold(14.4, 0.95), 4)
    0.72
    """
    _check_target(target)
    return factor * (1.0 - target)


@dataclass(frozen=True)
class BurnAlert:
    """One alert of a plan: fire when both windows' burn rates exceed ``factor``."""

    severity: Severity
    long: timedelta
    short: timedelta
    factor: float
    workbook_factor: float
    error_threshold: float
    adapted: bool
    note: str = ""


@dataclass(frozen=True)
class BurnPlan:
    """The burn-rate alerts for one target, and what had to change to make them fireable."""

    target: float
    period: timedelta
    max_burn: float
    alerts: tuple[BurnAlert, ...]
    refused: tuple[tuple[Window, str], ...] = field(default=())

    @property
    def notes(self) -> tuple[str, ...]:
        """Every adaptation and refusal, in words, for comments in generated files."""
        adapted = tuple(a.note for a in self.alerts if a.note)
        return adapted + tuple(reason for _, reason in self.refused)

    @property
    def windows(self) -> tuple[timedelta, ...]:
        """Every long and short window the alerts read, shortest first."""
        return tuple(sorted({w for a in self.alerts for w in (a.long, a.short)}))


def plan(
    target: float,
    *,
    period: timedelta = DEFAULT_PERIOD,
    windows: tuple[Window, ...] = WORKBOOK_WINDOWS,
    headroom: float = 0.9,
    mode: Mode = "adapt",
) -> BurnPlan:
    """The burn-rate alerts for ``target``, each one able to fire.

    A factor at or above ``headroom * max_burn(target)`` would need (nearly) every case to
    breach. In ``adapt`` mode its factor becomes ``headroom * max_burn`` (the alert then fires
    when more than ``headroom`` of the cases in both windows breach); in ``refuse`` mode the
    window is dropped. An adapted factor below 1 would fire while the budget is still being
    kept, so that window is refused in either mode.

    Args:
        target: attainment target, a fraction in (0, 1).
        period: the SLO period the budget is counted over.
        windows: the window table; the workbook's by default.
        headroom: share of the largest possible burn an alert may ask for, in (0, 1).
        mode: ``adapt`` or ``refuse`` combinations that can never fire.

    Raises:
        BurnRateError: the target leaves no budget, ``headroom`` is out of range, or no alert
            at all is left.

    >>> [round(a.factor, 1) for a in plan(0.90).alerts]
    [9.0, 6.0, 3.0, 1.0]
    >>> [a.severity for a in plan(0.90, mode="refuse").alerts]
    ['page', 'ticket', 'ticket']
    """
    _check_target(target)
    if not 0 < headroom < 1:
        # At headroom 1 the alert would need an error ratio above 1: it could never fire.
        raise BurnRateError(f"headroom is a share of the largest burn in (0, 1), got {headroom}")
    if period <= timedelta(0):
        raise BurnRateError(f"the SLO period must be positive, got {period}")
    ceiling = max_burn(target)
    cap = headroom * ceiling
    alerts: list[BurnAlert] = []
    refused: list[tuple[Window, str]] = []
    for window in windows:
        wanted = window.factor(period)
        long, short = prometheus_duration(window.long), prometheus_duration(window.short)
        name = f"{window.severity} {long}/{short}"
        if wanted < cap:
            threshold = error_threshold(wanted, target)
            alerts.append(BurnAlert(window.severity, window.long, window.short, wanted, wanted,
                                    threshold, adapted=False))  # fmt: skip
            continue
        impossible = (
            f"{name}: a {wanted:g}x burn needs an error ratio of {wanted * (1 - target):.3g}, "
            f"but at target {target:.4g} the burn cannot exceed {ceiling:.3g}x"
        )
        if mode == "refuse":
            refused.append((window, f"{impossible}; refused"))
            continue
        if cap < 1:
            refused.append(
                (window, f"{impossible}; refused (a factor below 1 fires within budget)")
            )
            continue
        alerts.append(
            BurnAlert(
                window.severity,
                window.long,
                window.short,
                cap,
                wanted,
                error_threshold(cap, target),
                adapted=True,
                note=f"{impossible}; adapted to {cap:.3g}x ({headroom:.0%} of the largest burn)",
            )
        )
    if not alerts:
        raise BurnRateError(
            f"no burn-rate alert can fire for target {target}: "
            + "; ".join(reason for _, reason in refused)
            + ". Raise the target or use mode 'adapt'."
        )
    return BurnPlan(target, period, ceiling, tuple(alerts), tuple(refused))


def prometheus_duration(value: timedelta) -> str:
    """``timedelta`` as a Prometheus duration in its largest whole unit.

    >>> prometheus_duration(timedelta(days=30)), prometheus_duration(timedelta(minutes=90))
    ('30d', '90m')
    """
    seconds = int(value.total_seconds())
    if seconds <= 0 or seconds != value.total_seconds():
        raise BurnRateError(f"a window must be a positive whole number of seconds, got {value}")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _check_target(target: float) -> None:
    if not (0 < target < 1) or math.isnan(target):
        if target == 1:
            raise BurnRateError(
                "target 1.0 leaves no error budget, so no burn rate can be computed; "
                "use a target below 1, e.g. 0.999"
            )
        raise BurnRateError(f"an attainment target is a fraction in (0, 1), got {target}")
