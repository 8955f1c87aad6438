"""One invocation of a schedule's target, carried out in a worker thread.

The target is called through the emulator's own API, as the schedule's execution role:
the role (``Target.RoleArn``) is assumed through STS and its credentials sign the call, so
the emulator's services see the scheduler's call as AWS's do. A failed attempt is retried
as the retry policy says (:mod:`targets`); when no retry is left, the dead-letter event goes
to ``Target.DeadLetterConfig.Arn``, or the event is dropped, as on AWS. The emulator does
not evaluate IAM policies: a role without the permission still invokes its target here,
where AWS would fail the invocation (docs/emulator.md).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
from botocore import xform_name

from opslib.emulator.core.runtime import Runtime
from opslib.emulator.scheduler.model import Schedule
from opslib.emulator.scheduler.targets import (
    DEFAULT_INPUT,
    Call,
    Context,
    DeadLetter,
    TargetError,
    backoff,
    dead_letter,
    exhausted,
    resolve,
    with_context,
)
from opslib.emulator.scheduler.timing import Occurrence

logger = logging.getLogger(__name__)

ROLE_REFRESH = 300.0  # seconds before its expiry a role's session is assumed again


@dataclass
class RoleSessions:
    """boto3 sessions as each execution role, assumed through the emulator's STS."""

    runtime: Runtime
    clock: Callable[[], float] = time.time
    _sessions: dict[str, tuple[float, boto3.session.Session]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, role_arn: str, service: str, region: str) -> Any:
        session = self._session(role_arn, region)
        return session.client(
            service,
            region_name=region,
            endpoint_url=self.runtime.endpoint,
            config=botocore.config.Config(retries={"mode": "standard"}),
        )

    def _session(self, role_arn: str, region: str) -> boto3.session.Session:
        with self._lock:
            cached = self._sessions.get(role_arn)
            if cached is not None and cached[0] - ROLE_REFRESH > self.clock():
                return cached[1]
        credentials = self.runtime.client("sts", region).assume_role(
            RoleArn=role_arn, RoleSessionName="EventBridgeScheduler"
        )["Credentials"]
        session = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        with self._lock:
            self._sessions[role_arn] = (credentials["Expiration"].timestamp(), session)
        return session


class Invocation:
    """One occurrence of one schedule: the attempts, their retries, the dead letter."""

    def __init__(
        self,
        schedule: Schedule,
        occurrence: Occurrence,
        roles: RoleSessions,
        stopping: threading.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.schedule = schedule
        self.occurrence = occurrence
        self.roles = roles
        self.stopping = stopping
        self.clock = clock
        self.execution_id = uuid.uuid4().hex[:16]
        self.attempts = 0

    def run(self) -> bool:
        """Invoke until delivered or out of retries; True when the target took it."""
        target = self.schedule.target
        policy = dict(target.get("RetryPolicy") or {})
        while True:
            self.attempts += 1
            context = self._context()
            payload = with_context(str(target.get("Input") or DEFAULT_INPUT), context)
            try:
                self._attempt(payload)
                logger.info("schedule %s invoked %s", self.schedule.arn, target.get("Arn"))
                return True
            except TargetError as error:
                retries = self.attempts - 1
                age = self.clock() - self.occurrence.scheduled
                why = exhausted(policy, retries, age)
                logger.info("schedule %s attempt %d failed: %s", self.schedule.arn,
                            self.attempts, error)  # fmt: skip
                if why is None and not self.stopping.wait(backoff(retries + 1)):
                    continue
                if why is not None:
                    self._dead_letter(dead_letter(context, str(target.get("Arn")), payload,
                                                  error, retries, why))  # fmt: skip
                return False

    def _context(self) -> Context:
        return Context(self.schedule.arn, self.occurrence.scheduled, self.execution_id,
                       self.attempts)  # fmt: skip

    def _attempt(self, payload: str) -> None:
        call = resolve(self.schedule.target, payload, self.schedule.region)
        role = str(self.schedule.target.get("RoleArn", ""))
        try:
            client = self.roles.client(role, call.service, call.region)
            invoke(client, call)
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            raise TargetError(str(error.get("Code", "")), str(error.get("Message", ""))) from exc
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.UnknownServiceError) as exc:
            raise TargetError("ValidationException", str(exc)) from exc

    def _dead_letter(self, letter: DeadLetter) -> None:
        arn = str((self.schedule.target.get("DeadLetterConfig") or {}).get("Arn") or "")
        if not arn:
            logger.info("schedule %s: event dropped (no dead-letter queue)", self.schedule.arn)
            return
        _, _, _, region, account, queue = arn.split(":", 5)
        role = str(self.schedule.target.get("RoleArn", ""))
        try:
            sqs = self.roles.client(role, "sqs", region)
            url = sqs.get_queue_url(QueueName=queue, QueueOwnerAWSAccountId=account)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=letter.body,
                             MessageAttributes=letter.attributes)  # fmt: skip
        except botocore.exceptions.ClientError as exc:
            logger.warning("schedule %s: dead-letter queue %s refused the event: %s",
                           self.schedule.arn, arn, exc)  # fmt: skip


def invoke(client: Any, call: Call) -> Any:
    """Make one API call with a boto3 client (SendMessage: the queue's URL looked up)."""
    params = dict(call.params)
    if call.queue_name:
        params["QueueUrl"] = client.get_queue_url(QueueName=call.queue_name)["QueueUrl"]
    method = xform_name(call.operation)
    if not hasattr(client, method):
        raise TargetError("ValidationException", f"{call.service} has no action {call.operation}")
    return getattr(client, method)(**params)
