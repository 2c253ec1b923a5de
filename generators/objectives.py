"""The attainment objectives a policy sets: one per clock and standard, with its burn-rate plan.

The rules, dashboards and Alertmanager generators all start here, so a clock added to the
policy file reaches every generated file the same way. A clock is judged by the standard of
each cycle (``basic``, ``special`` in special periods, ``expedited`` for expedited products),
and the SLI counter carries that standard as a label; so each (clock, standard) pair a clock
can reach through its overrides is one objective with its own target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generators.burnrate import BurnPlan, Mode, plan
from sla.policy import ClockPolicy, PolicySpec

__all__ = ["Objective", "load_spec", "objectives", "team_of"]

#: The label value for a missing team, as the metrics write it.
NO_TEAM = "none"


@dataclass(frozen=True)
class Objective:
    """Attainment of one clock under one standard must reach ``target``."""

    clock: str
    standard: str
    target: float
    team: str
    description: str
    plan: BurnPlan
    notes: tuple[str, ...] = ()


def load_spec(path: Path) -> PolicySpec:
    """Read and check a policy file (errors name file, line and field)."""
    from sla.policy_file import load_policy

    return load_policy(path)


def team_of(clock: ClockPolicy) -> str:
    """The team that owns ``clock``'s cases, or ``none``."""
    return clock.team or NO_TEAM


def _reachable(clock: ClockPolicy, spec: PolicySpec) -> dict[str, list[float]]:
    """Standard -> the targets a cycle of ``clock`` can be judged by under it."""
    base_target = clock.target if clock.target is not None else spec.targets[clock.standard]
    found: dict[str, list[float]] = {clock.standard: [base_target]}
    for override in clock.overrides:
        standard = override.standard or clock.standard
        if override.target is not None:
            target = override.target
        elif override.standard is not None:
            target = spec.targets[override.standard]
        else:
            target = base_target
        found.setdefault(standard, [])
        if target not in found[standard]:
            found[standard].append(target)
    return found


def objectives(spec: PolicySpec, *, mode: Mode = "adapt", headroom: float = 0.9) -> list[Objective]:
    """Every (clock, standard) objective of ``spec``, in policy order, basic standard first.

    When overrides give one standard of a clock different targets, the strictest one is used
    (the metrics cannot tell the cycles apart) and the objective's ``notes`` say so.
    """
    order = {"basic": 0, "special": 1, "expedited": 2}
    out: list[Objective] = []
    for clock in spec.clocks:
        reachable = _reachable(clock, spec)
        for standard in sorted(reachable, key=lambda s: (order.get(s, 9), s)):
            targets = reachable[standard]
            target = max(targets)
            notes: tuple[str, ...] = ()
            if len(targets) > 1:
                listed = ", ".join(f"{t:g}" for t in sorted(targets))
                notes = (
                    f"overrides give standard {standard!r} the targets {listed}; "
                    f"alerting against the strictest, {target:g}",
                )
            out.append(
                Objective(
                    clock=clock.id,
                    standard=standard,
                    target=target,
                    team=team_of(clock),
                    description=clock.description,
                    plan=plan(target, mode=mode, headroom=headroom),
                    notes=notes,
                )
            )
    return out
