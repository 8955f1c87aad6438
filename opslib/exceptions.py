"""The one exceptions module of opslib.

Every error that opslib raises on purpose derives from :class:`OpslibError`, so the CLI
and the runbooks catch one type and show its one-line message. Lower-level errors
(botocore's ClientError, OSError, yaml errors) are translated in exactly one place each,
with ``raise ... from exc``.

    OpslibError
    ├── ConfigError          the stack's config file or a parameter is wrong
    ├── SpecError            buildspec.yml / appspec.yml failed validation (carries findings)
    ├── TargetError          the target cannot be reached or is not configured
    ├── AwsError             an AWS API call failed (service, operation, code)
    │   └── NotFoundError    the resource named does not exist
    ├── EmulatorError        the local emulator cannot start, stop or answer
    │   ├── EmulatorNotRunning
    │   └── StateNotDurable  a write could not be stored (disk full, I/O error); none of it kept
    ├── ExecutionError       a build, deployment, pipeline run or runbook failed
    └── DrillRefused         a drill would be unsafe (untagged target, lock held, no confirm)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opslib.specs.findings import Finding


class OpslibError(Exception):
    """Root of every error opslib raises on purpose; its message is one line for a user."""


class ConfigError(OpslibError):
    """The stack's config file, or a parameter given to a command or runbook, is invalid."""


class SpecError(OpslibError):
    """A buildspec or appspec has errors; ``findings`` lists each with file, line and key."""

    def __init__(self, message: str, findings: Sequence[Finding] = ()) -> None:
        super().__init__(message)
        self.findings = list(findings)


class TargetError(OpslibError):
    """The target (local emulator or an AWS account) is not usable as configured."""


class AwsError(OpslibError):
    """An AWS API call failed; carries the service, operation and AWS error code."""

    def __init__(self, message: str, *, service: str = "", operation: str = "", code: str = ""):
        super().__init__(message)
        self.service = service
        self.operation = operation
        self.code = code


class NotFoundError(AwsError):
    """The resource an API call named does not exist."""


class EmulatorError(OpslibError):
    """The local emulator could not be started, stopped or reached."""


class EmulatorNotRunning(EmulatorError):
    """No emulator answers at the configured endpoint."""


class StateNotDurable(EmulatorError):
    """The emulator could not store a write (disk full, I/O error) and kept none of it.

    Raised inside the emulator process by its stores; the gateway answers the request with
    AWS's 500 instead of acknowledging it. ``no_space`` says the device was full.
    """

    def __init__(self, message: str, *, no_space: bool = False) -> None:
        super().__init__(message)
        self.no_space = no_space


class ExecutionError(OpslibError):
    """A build, deployment, pipeline execution or runbook ended in failure.

    ``code`` is the AWS status code where one applies (CLIENT_ERROR, YAML_FILE_ERROR, ...).
    """

    def __init__(self, message: str, code: str = "CLIENT_ERROR") -> None:
        super().__init__(message)
        self.code = code


class DrillRefused(OpslibError):
    """A drill would be unsafe and did not start: a target without the stack's tag, another
    drill holding the stack's lock, a twin name that is production's. Nothing was changed."""
