"""The whole stack as code: desired state, plan, apply (``up``), destroy (``down``), status.

One module per service holds its resources (:mod:`s3`, :mod:`iam`, :mod:`network`,
:mod:`codebuild`, :mod:`codedeploy`, :mod:`codepipeline`, :mod:`cloudwatch`,
:mod:`monitoring`, :mod:`source`, :mod:`hostconfig`); :mod:`registry` orders them;
:mod:`engine` runs them. Everything goes through one :class:`~opslib.target.Session`.
"""

from __future__ import annotations

from opslib.stack.api import Api, CallLog
from opslib.stack.engine import RunResult, StepStatus, apply, destroy, plan, survey
from opslib.stack.model import Action, Change, Plan
from opslib.stack.status import StackStatus, status

__all__ = [
    "Action",
    "Api",
    "CallLog",
    "Change",
    "Plan",
    "RunResult",
    "StackStatus",
    "StepStatus",
    "apply",
    "destroy",
    "plan",
    "status",
    "survey",
]
