"""Policies for the generator tests: a small one, and the default pack plus one new clock."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POLICIES = ROOT / "config" / "policies.yaml"

SMALL = """\
version: "test-1"
targets: {basic: 0.95, special: 0.90, expedited: 0.98}
calendars:
  office:
    timezone: Asia/Shanghai
    working_hours:
      mon: ["09:00-12:00", "13:00-18:00"]
      tue: ["09:00-12:00", "13:00-18:00"]
      wed: ["09:00-12:00", "13:00-18:00"]
      thu: ["09:00-12:00", "13:00-18:00"]
      fri: ["09:00-12:00", "13:00-18:00"]
    holidays: none
    extra_holidays: [2026-10-01, 2026-10-02]
    extra_workdays: [2026-10-10]
special_periods:
  peak: {start: 2026-11-10, end: 2026-11-20}
teams:
  desk: {calendar: office}
  couriers: {}
clocks:
  - id: first_reply
    case_kind: complaint
    start: [complaint_registered]
    stop: [complaint_acknowledged]
    limit: 24h
    team: desk
    overrides:
      - during: peak
        standard: special
  - id: pickup
    case_kind: shipment
    start: [pickup_booked]
    stop: [courier_arrived]
    limit: 2h
    team: couriers
"""

NEW_CLOCK = {
    "id": "parcel_recheck",
    "description": "Re-check a parcel's weight within 4 hours of a dispute.",
    "case_kind": "shipment",
    "start": ["weight_disputed"],
    "stop": ["weight_rechecked"],
    "limit": "4h",
    "target": 0.97,
    "team": "dispatch",
}


def small_policy(directory: Path) -> Path:
    """Write the small policy into ``directory``."""
    path = directory / "policies.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def default_with_new_clock(directory: Path) -> Path:
    """The default pack with :data:`NEW_CLOCK` appended and nothing else changed."""
    data = yaml.safe_load(DEFAULT_POLICIES.read_text(encoding="utf-8"))
    data["clocks"].append(NEW_CLOCK)
    path = directory / "policies.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
