"""AWS's input limits as the emulator applies them, and batches that keep them (issue 11)."""

from __future__ import annotations

import pytest

from opslib.emulator.core.limits import (
    EVENT_OVERHEAD,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_BATCH_SPAN_MS,
    event_size,
    log_batches,
    model_violations,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        ("codebuild", "CreateProject", {"name": "ok-name", "description": "d" * 255}, []),
        ("codebuild", "CreateProject", {"name": "ok", "description": "d" * 256},
         ["Value at 'description' failed to satisfy constraint: Member must have length less "
          "than or equal to 255"]),
        ("codebuild", "CreateProject", {"name": "bad name"},
         ["Value 'bad name' at 'name' failed to satisfy constraint: Member must satisfy regular "
          "expression pattern: [A-Za-z0-9][A-Za-z0-9\\-_]{1,149}"]),
        ("codebuild", "CreateProject", {"name": "-leading-dash"}, ["at 'name'"]),
        ("codebuild", "CreateProject", {"name": "n" * 151},
         ["at 'name' failed to satisfy constraint: Member must have length less than or equal "
          "to 150", "at 'name' failed to satisfy constraint: Member must satisfy regular"]),
        ("codebuild", "CreateProject", {"name": "ok", "timeoutInMinutes": 2161},
         ["Value '2161' at 'timeoutInMinutes' failed to satisfy constraint: Member must have "
          "value less than or equal to 2160"]),
        ("codebuild", "UpdateProject", {"name": "ok", "description": "d" * 5_000_000},
         ["Value at 'description'"]),
        ("logs", "PutLogEvents",
         {"logGroupName": "g", "logStreamName": "s",
          "logEvents": [{"timestamp": 1, "message": "m"}] * (MAX_BATCH_EVENTS + 1)},
         ["Value at 'logEvents' failed to satisfy constraint: Member must have length less than "
          "or equal to 10000"]),
        ("logs", "CreateLogGroup", {"logGroupName": "has space"}, ["at 'logGroupName'"]),
        ("logs", "CreateLogGroup", {"logGroupName": "/aws/codebuild/ok_name-1.x"}, []),
        ("logs", "CreateLogGroup", {"logGroupName": "g", "logGroupClass": "CHEAP"},
         ["Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS"]),
    ],
    ids=["description-255", "description-256", "name-pattern", "name-leading-dash",
         "name-too-long", "timeout-max", "update-description-5MB", "events-10001",
         "log-group-pattern", "log-group-ok", "log-group-class-enum"],
)  # fmt: skip
def test_model_constraints(
    service: str, operation: str, params: dict[str, object], expected: list[str]
) -> None:
    found = model_violations(service, operation, params)
    assert len(found) == len(expected), found
    for text, problem in zip(expected, found, strict=True):
        assert text in problem


def _events(*sizes: int, start: int = 0, step: int = 1) -> list[dict[str, object]]:
    """Events whose PutLogEvents size is exactly each of ``sizes``."""
    return [
        {"timestamp": start + i * step, "message": "x" * (size - EVENT_OVERHEAD)}
        for i, size in enumerate(sizes)
    ]


def test_event_size_counts_utf8_bytes_plus_26() -> None:
    assert event_size({"message": "é"}) == 2 + 26


@pytest.mark.parametrize(
    ("events", "batch_lengths"),
    [
        (_events(MAX_BATCH_BYTES // 2, MAX_BATCH_BYTES // 2), [2]),
        (_events(MAX_BATCH_BYTES // 2, MAX_BATCH_BYTES // 2 + 1), [1, 1]),
        (_events(*[100] * (MAX_BATCH_EVENTS + 5)), [MAX_BATCH_EVENTS, 5]),
        (_events(100, 100, 100, step=MAX_BATCH_SPAN_MS // 2 + 1), [2, 1]),
        ([], []),
    ],
    ids=["exactly-1-MiB", "one-byte-over", "count", "24-hours", "none"],
)
def test_log_batches_keep_every_limit(
    events: list[dict[str, object]], batch_lengths: list[int]
) -> None:
    batches = log_batches(events)
    assert [len(b) for b in batches] == batch_lengths
    assert [e for b in batches for e in b] == events  # nothing lost, order kept


def test_an_event_too_large_for_any_batch_is_cut_to_fit() -> None:
    (batch,) = log_batches([{"timestamp": 0, "message": "é" * MAX_BATCH_BYTES}])
    assert event_size(batch[0]) <= MAX_BATCH_BYTES
    assert set(str(batch[0]["message"])) == {"é"}  # cut at a character boundary
