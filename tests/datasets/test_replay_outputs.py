"""Replay outputs stay byte-identical: a speed-up that changes an output is a bug.

Each wired real log is replayed as ``slawatch replay --out`` would write it, and the SHA-256 of
``outcomes.jsonl`` and ``breaches.jsonl`` is compared with the digests recorded in
``replay-digests.json``. A change that is meant to change outputs (a new semantic, a fixed
defect) records new digests with ``python -m tests.datasets.test_replay_outputs --record``
and says why in its commit; ``bench/replay.py --check`` checks the full-size logs too.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from slawatch.replay import ReplayResult, replay_files
from tests.datasets.conftest import DATA, DATASETS, data_file

DIGESTS = Path(__file__).with_name("replay-digests.json")

#: name -> (data file under shared/data, config name under config/datasets)
LOGS = {
    "helpdesk": (("helpdesk", "finale.csv"), "helpdesk"),
    "servicenow-first5000": (
        ("servicenow-incidents", "incident_event_log_first5000.csv"),
        "servicenow",
    ),
    "bpic2013": (("bpic2013-incidents", "bpic2013_incidents.csv"), "bpic2013"),
}


def output_digests(result: ReplayResult) -> dict[str, str]:
    """SHA-256 of the two files ``slawatch replay --out`` writes, as it writes them."""
    digests = {}
    for name, records in (("outcomes.jsonl", result.outcomes), ("breaches.jsonl", result.breaches)):
        text = "".join(record.model_dump_json() + "\n" for record in records)
        digests[name] = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return digests


def replay_digests(log: str, path: Path) -> dict[str, str]:
    """Replay one wired log and digest its outputs."""
    config = LOGS[log][1]
    result, _ = replay_files(
        [str(path)],
        DATASETS / f"{config}-topics.yaml",
        DATASETS / f"{config}-policies.yaml",
    )
    return output_digests(result)


@pytest.mark.parametrize("log", sorted(LOGS))
def test_replay_outputs_are_byte_identical(log: str) -> None:
    """The outcomes and breach records of a real log hash to the recorded digests."""
    path = data_file(*LOGS[log][0])
    assert json.loads(DIGESTS.read_text())[log] == replay_digests(log, path)


if __name__ == "__main__" and "--record" in sys.argv:
    recorded = {log: replay_digests(log, DATA.joinpath(*parts)) for log, (parts, _) in LOGS.items()}
    DIGESTS.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")
    print(f"recorded {DIGESTS}")
