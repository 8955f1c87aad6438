"""Fixes to moto's behaviour that the emulator's flows need, each applied as its module loads.

Each fix names the gap it closes (REFERENCE.md lists the measured ones) and has a test in
``tests/emulator/test_moto_fixes.py``. Fixes patch moto's validation or fill in an
operation moto lacks; anything that really runs work is a service of its own.

moto's service modules are slow to import (``moto.ssm.models`` pulls in all of EC2's,
about a second), and the emulator imports a service's module only when a request (or a
snapshot being loaded) first needs it. So :func:`install` does not import them: it puts
an import hook on ``sys.meta_path`` that applies a module's fixes the moment that module
has been executed, before anything else can use it; a module already imported is fixed
at once. :func:`apply` imports every fixed module now (the same fixes, eagerly).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import json
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import partial
from types import ModuleType
from typing import Any

from opslib.emulator.core import s3bodies


def _codebuild_locations(responses: Any) -> None:
    """Fix moto's CreateProject: CODEPIPELINE and NO_SOURCE projects need no location."""
    moto_validate_source = responses._validate_required_params_source
    moto_validate_artifacts = responses._validate_required_params_artifacts

    def validate_source(source: dict[str, Any]) -> None:
        """moto demands a location for every source type; AWS does not for these two."""
        if source.get("type") not in ("CODEPIPELINE", "NO_SOURCE"):
            moto_validate_source(source)

    def validate_artifacts(artifacts: dict[str, Any]) -> None:
        """A CODEPIPELINE project's artifacts go where its pipeline says: no location."""
        if artifacts.get("type") != "CODEPIPELINE":
            moto_validate_artifacts(artifacts)

    responses._validate_required_params_source = validate_source
    responses._validate_required_params_artifacts = validate_artifacts


# --- SSM: the backend must pickle (the emulator snapshots every backend it touches) ------


def _ssm_picklable(models: Any) -> None:
    """Fix SSM snapshots: moto's SSM backend keeps tags in a lambda-made defaultdict.

    A lambda cannot be pickled, so the first mutating call after SSM was touched failed
    with HTTP 500 (and the client retried a PutParameter that had in fact happened). The
    same nested defaultdict made from ``functools.partial`` pickles.
    """
    backend_class = models.SimpleSystemManagerBackend
    original = backend_class.__init__

    def __init__(self: Any, region_name: str, account_id: str) -> None:
        original(self, region_name, account_id)
        self._resource_tags = defaultdict(partial(defaultdict, dict), self._resource_tags)

    backend_class.__init__ = __init__
    models.ParameterDict.__reduce__ = _parameter_dict_reduce


def _parameter_dict_reduce(self: Any) -> tuple[Any, ...]:
    """Pickle moto's ParameterDict so that it can be unpickled again.

    It is a defaultdict whose ``__init__`` takes (account_id, region_name); defaultdict's
    own ``__reduce__`` rebuilds it as ``ParameterDict(list)``, so every snapshot holding a
    parameter failed to load ("missing 1 required positional argument: 'region_name'")
    and the emulator could not start again once ``opslib up`` had stored one.
    """
    args = (self.account_id, self.region_name)
    return (type(self), args, self.__dict__, None, iter(self.items()))


# --- S3: every version of a key must pickle ----------------------------------------------


def _versioned_store_reduce(self: Any) -> tuple[Any, ...]:
    """Pickle every version of every key, not just the latest.

    moto's ``_VersionedKeyStore`` is a dict of key -> [versions] whose ``items()`` yields
    only the latest version, and pickling a dict subclass goes through ``items()``: every
    restart silently dropped all noncurrent versions of a versioned bucket (the very
    versions an artifact restore needs). The state carries the lists instead; the class
    stays moto's, so a snapshot names no emulator module.
    """
    return (type(self), (), {"__dict__": self.__dict__, "lists": dict(dict.items(self))})


def _versioned_store_setstate(self: Any, state: dict[str, Any]) -> None:
    self.__dict__.update(state["__dict__"])
    for key, versions in state["lists"].items():
        dict.__setitem__(self, key, versions)


def _s3_versions_picklable(utils: Any) -> None:
    store = utils._VersionedKeyStore
    store.__reduce__ = _versioned_store_reduce
    store.__setstate__ = _versioned_store_setstate


# --- S3: bucket policies with conditions -----------------------------------------------

# The request context the emulator's endpoint stands for: AWS's HTTPS endpoint. A client
# talks plain HTTP to 127.0.0.1, but what it rehearses is a TLS call to S3.
_S3_REQUEST_CONTEXT = {"aws:securetransport": "true"}


def _condition_holds(condition: dict[str, dict[str, Any]]) -> bool:
    """Whether a Bool condition on a known key holds; anything else counts as holding.

    moto ignores ``Bool`` conditions, so "Deny when aws:SecureTransport is false" denied
    every request. Only the keys of ``_S3_REQUEST_CONTEXT`` are evaluated; others keep
    moto's behaviour.
    """
    for key, expected in condition.get("Bool", {}).items():
        actual = _S3_REQUEST_CONTEXT.get(key.lower())
        values = expected if isinstance(expected, list) else [expected]
        if actual is not None and actual not in {str(v).lower() for v in values}:
            return False
    return True


def _bucket_permission(self: Any, action: str, resource: str) -> Any:
    """FakeBucket.get_permission, with statements whose Bool conditions fail left out."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    document = json.loads(self.policy.decode())
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    document["Statement"] = [s for s in statements if _condition_holds(s.get("Condition", {}))]
    return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)


def _s3_policy_conditions(models: Any) -> None:
    """Fix S3: a deny-non-TLS bucket policy no longer denies every request."""
    models.FakeBucket.get_permission = _bucket_permission


# --- CodeBuild UpdateProject ----------------------------------------------------------

_PROJECT_FIELDS = {
    "description": "description",
    "source": "source",
    "artifacts": "artifacts",
    "environment": "environment",
    "serviceRole": "serviceRole",
    "cache": "cache",
    "timeoutInMinutes": "timeoutInMinutes",
    "queuedTimeoutInMinutes": "queuedTimeoutInMinutes",
    "sourceVersion": "sourceVersion",
    "logsConfig": "logsConfig",
    "vpcConfig": "vpcConfig",
    "tags": "tags",
}


def _update_project(self: Any) -> Any:
    """CodeBuild UpdateProject (moto lacks it): change the given fields of a project."""
    from moto.codebuild.exceptions import ResourceNotFoundException
    from moto.core.responses import ActionResult
    from moto.core.utils import unix_time

    name = self._get_param("name")
    project = self.codebuild_backend.codebuild_projects.get(name)
    if project is None:
        raise ResourceNotFoundException(f"Project cannot be found: {name}")
    metadata = project.project_metadata
    for param, key in _PROJECT_FIELDS.items():
        value = self._get_param(param)
        if value is not None:
            metadata[key] = value
    if self._get_param("tags") is not None:
        project.tags = metadata["tags"]
    metadata["lastModifiedDate"] = unix_time()
    return ActionResult({"project": metadata})


def _codebuild_update_project(responses: Any) -> None:
    """Fix CodeBuild: UpdateProject answered HTTP 500 (not implemented)."""
    responses.CodeBuildResponse.update_project = _update_project


# --- CodeDeploy UpdateDeploymentGroup and alarmConfiguration --------------------------

_GROUP_FIELDS = {
    "deploymentConfigName": "deployment_config_name",
    "ec2TagFilters": "ec2_tag_filters",
    "serviceRoleArn": "service_role_arn",
    "alarmConfiguration": "alarm_configuration",
    "autoRollbackConfiguration": "auto_rollback_configuration",
    "deploymentStyle": "deployment_style",
    "triggerConfigurations": "trigger_configurations",
    "outdatedInstancesStrategy": "outdated_instances_strategy",
}


def _update_deployment_group(self: Any) -> Any:
    """CodeDeploy UpdateDeploymentGroup (moto lacks it): change the given settings."""
    from moto.core.responses import ActionResult

    application = self._get_param("applicationName")
    current = self._get_param("currentDeploymentGroupName")
    group = self.codedeploy_backend.get_deployment_group(application, current)
    for param, attribute in _GROUP_FIELDS.items():
        value = self._get_param(param)
        if value is not None:
            setattr(group, attribute, value)
    new_name = self._get_param("newDeploymentGroupName")
    if new_name and new_name != current:
        groups = self.codedeploy_backend.deployment_groups[application]
        groups[new_name] = groups.pop(current)
        group.deployment_group_name = new_name
    return ActionResult({"hooksNotCleanedUp": []})


def _delete_deployment_group(self: Any) -> Any:
    """CodeDeploy DeleteDeploymentGroup (moto lacks it): forget the group and its tags."""
    from moto.core.responses import ActionResult

    backend = self.codedeploy_backend
    application = self._get_param("applicationName")
    name = self._get_param("deploymentGroupName")
    backend.get_deployment_group(application, name)  # raises the AWS error when absent
    del backend.deployment_groups[application][name]
    backend.tagger.delete_all_tags_for_resource(backend._deployment_group_arn(application, name))
    return ActionResult({"hooksNotCleanedUp": []})


def _delete_application(self: Any) -> Any:
    """CodeDeploy DeleteApplication (moto lacks it): with its groups, as AWS does."""
    from moto.core.responses import EmptyResult

    backend = self.codedeploy_backend
    application = self._get_param("applicationName")
    backend.get_application(application)  # raises ApplicationDoesNotExistException
    for name in backend.deployment_groups.pop(application, {}):
        backend.tagger.delete_all_tags_for_resource(
            backend._deployment_group_arn(application, name)
        )
    del backend.applications[application]
    backend.tagger.delete_all_tags_for_resource(backend._application_arn(application))
    return EmptyResult()


def _codedeploy_groups(responses: Any) -> None:
    """Fix CodeDeploy: Update/DeleteDeploymentGroup, DeleteApplication (HTTP 500 in moto);
    GetDeploymentGroup dropping the alarm configuration."""
    moto_group_info = responses._deployment_group_info

    def group_info_with_alarms(group: Any) -> dict[str, Any]:
        """moto's GetDeploymentGroup answer, with the alarmConfiguration it leaves empty."""
        info: dict[str, Any] = moto_group_info(group)
        alarms = group.alarm_configuration
        info["alarmConfiguration"] = alarms if isinstance(alarms, dict) else {}
        return info

    responses.CodeDeployResponse.update_deployment_group = _update_deployment_group
    responses.CodeDeployResponse.delete_deployment_group = _delete_deployment_group
    responses.CodeDeployResponse.delete_application = _delete_application
    responses._deployment_group_info = group_info_with_alarms


# --- applying them: as each moto module is imported ----------------------------------------

Fix = Callable[[Any], None]  # patches the module it is given (typed loosely on purpose)


# moto's module -> the fixes that patch it, in order.
# --- SQS: queues must pickle (their messages are acknowledged writes) -------------------
def _queue_getstate(self: Any) -> dict[str, Any]:
    state: dict[str, Any] = self.__dict__.copy()
    state.pop("_messages_lock", None)  # a Condition: made again on load
    return state


def _queue_setstate(self: Any, state: dict[str, Any]) -> None:
    self.__dict__.update(state)
    self._messages_lock = threading.Condition()


def _sqs_picklable(models: Any) -> None:
    """Fix SQS: a queue holds a Condition, so no queue (or message) survived a restart."""
    models.Queue.__getstate__ = _queue_getstate
    models.Queue.__setstate__ = _queue_setstate


FIXES: dict[str, tuple[Fix, ...]] = {
    "moto.codebuild.responses": (_codebuild_locations, _codebuild_update_project),
    "moto.codedeploy.responses": (_codedeploy_groups,),
    "moto.s3.models": (_s3_policy_conditions, s3bodies.install),
    "moto.s3.utils": (_s3_versions_picklable,),
    "moto.ssm.models": (_ssm_picklable,),
    "moto.sqs.models": (_sqs_picklable,),
}

_fixed: set[str] = set()  # the modules whose fixes have run (each runs once)
_fixing = threading.RLock()


def _fix(module: ModuleType) -> None:
    with _fixing:
        if module.__name__ in _fixed:
            return
        for fix in FIXES[module.__name__]:
            fix(module)
        _fixed.add(module.__name__)


class _FixingLoader(importlib.abc.Loader):
    """A module's own loader, with its fixes applied right after the module is executed."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        _fix(module)

    def __getattr__(self, name: str) -> Any:  # resource readers, get_source, ...
        return getattr(self.loader, name)


class FixOnImport(importlib.abc.MetaPathFinder):
    """Finds the fixed moto modules as the path finder does, through a fixing loader."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in FIXES or fullname in _fixed:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _FixingLoader(spec.loader)
        return spec


def install() -> None:
    """Fix each moto module as it is first imported; fix those already imported now."""
    with _fixing:
        if not any(isinstance(finder, FixOnImport) for finder in sys.meta_path):
            sys.meta_path.insert(0, FixOnImport())
        for name in FIXES:
            if name in sys.modules:
                _fix(sys.modules[name])


# --- EventBridge: deliveries to a log-group target go to the emulator's Logs store -------

# (account, region, group name, message) -> delivered; set by the Logs service at start.
LogDelivery = Callable[[str, str, str, str], bool]


def _send_to_log_group(deliver: LogDelivery, rule: Any, name: str, event: dict[str, Any]) -> None:
    """moto's Rule._send_to_cw_log_group, writing through the Logs service's store.

    moto wrote the event into its own logs backend, which the emulator no longer serves
    or snapshots. The event is formatted as moto (and AWS) does: ``time`` as ISO 8601.
    """
    from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp

    if isinstance(event.get("time"), int | float):
        event["time"] = iso_8601_datetime_without_milliseconds(utcfromtimestamp(event["time"]))
    deliver(rule.account_id, rule.region_name, name, json.dumps(event))


def route_event_log_targets(deliver: LogDelivery) -> None:
    """Fix EventBridge: a rule's log-group target writes to the emulator's Logs store."""
    from moto.events.models import Rule

    rule: Any = Rule  # patched class: typed loosely on purpose
    rule._send_to_cw_log_group = lambda self, name, event: _send_to_log_group(
        deliver, self, name, event
    )


def apply() -> None:
    """Apply every fix now, importing the modules they patch (idempotent)."""
    install()
    for name in FIXES:
        importlib.import_module(name)
