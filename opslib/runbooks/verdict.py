"""A runbook's verdict: one clear sentence, marked ✓ or ✗."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """How a runbook ended, for people (the sentence) and for schedulers (``ok``)."""

    ok: bool
    sentence: str

    def __str__(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.sentence}"

    def _repr_markdown_(self) -> str:
        return f"### {self}"


def rerun_hint(runbook: str, parameter: str, value: bool) -> str:
    """How to run a runbook again with a flag flipped, in Python and on the command line."""
    return (
        f"rerun with {parameter}={value} "
        f"(opslib runbook run {runbook} -p {parameter} {str(value).lower()})"
    )
