"""The CloudWatch (monitoring) API's errors, as the pure metric and alarm core raises them.

Each error carries the AWS error code and the message AWS answers, so the service layer turns
it into an HTTP 400 answer without rewording. Codes and their HTTP status come from the API
model (botocore ``cloudwatch`` service-2.json); messages are AWS's where a real answer was
found, otherwise plain one-line wording that names the parameter (noted at the raise site).

    CloudWatchError                 code, message; HTTP 400 (sender fault)
    ├── InvalidParameterValue       a parameter's value is bad or out of range
    ├── InvalidParameterCombination parameters that cannot be used together
    ├── MissingParameter            a required parameter is absent
    └── ValidationError             GetMetricData's and the alarm rules' validation errors
        └── MetricMathError         a math expression that does not parse or evaluate

CloudWatch Logs answers with other codes (its own JSON protocol); this module is only for
the metrics and alarms API.
"""

from __future__ import annotations

from typing import ClassVar


class CloudWatchError(Exception):
    """An error the CloudWatch API answers with ``code`` and ``message`` (HTTP 400)."""

    code: ClassVar[str] = "InternalFailure"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameterValue(CloudWatchError):
    """The value of an input parameter is bad or out of range."""

    code = "InvalidParameterValue"


class InvalidParameterCombination(CloudWatchError):
    """Parameters were used together that cannot be used together."""

    code = "InvalidParameterCombination"


class MissingParameter(CloudWatchError):
    """An input parameter that is required is missing."""

    code = "MissingParameter"


class ValidationError(CloudWatchError):
    """GetMetricData answers its parameter errors with this generic code (seen in SDK logs)."""

    code = "ValidationError"


class MetricMathError(ValidationError):
    """A metric math expression is malformed or cannot be evaluated.

    ``position`` is the 0-based character offset in the expression where the problem is
    (``None`` when it is not tied to one place, such as a cycle between expressions).
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position
