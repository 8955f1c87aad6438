"""What starting the emulator imports: moto's service modules only when first needed.

Each check runs in a fresh interpreter, so what this test process imported does not count.
moto's EC2 models alone take about a second to import; a bare ``moto_server`` pays that
only at its first EC2 request, and so must the emulator (issue 10: cold start).
"""

from __future__ import annotations

import json
import subprocess
import sys

# moto's service modules the emulator's own code uses; none is needed to start.
SERVICE_MODULES = (
    "moto.ec2.models",
    "moto.ssm.models",
    "moto.s3.models",
    "moto.codebuild.models",
    "moto.codebuild.responses",
    "moto.codedeploy.models",
    "moto.codedeploy.responses",
    "moto.codepipeline.models",
    "moto.cloudwatch.models",
    "moto.events.models",
    "moto.logs.models",
)


def _imported_after(code: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules under ``prefixes`` a fresh interpreter holds after running ``code``."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return list(json.loads(result.stdout.splitlines()[-1]))


def test_the_cli_imports_no_moto_nor_boto3() -> None:
    """``opslib emulator start|status`` run in a process of their own: no moto there."""
    code = "import opslib.cli.main, opslib.cli.emulator"
    assert _imported_after(code, ("moto", "boto3", "botocore")) == []


def test_emulator_start_imports_neither_the_backfill_nor_the_fault_client() -> None:
    """The package's other doors load at their first use; ``start`` pays for none of them."""
    code = "import opslib.cli.main, opslib.cli.emulator, opslib.emulator"
    watched = ("opslib.emulator.core.backfill", "opslib.emulator.core.fault", "urllib.request")
    assert _imported_after(code, watched) == []
    code += "\nfrom opslib.emulator import Fault, HistorySpec, inject_fault"
    assert _imported_after(code, watched) == [
        "opslib.emulator.core.backfill",
        "opslib.emulator.core.faultclient",
        "opslib.emulator.core.faultspec",
        "urllib.request",
    ]


def test_the_server_imports_no_moto_service_at_start() -> None:
    code = (
        "from opslib.emulator import server\n"
        "from opslib.emulator.core import motofixes\n"
        "motofixes.install()"
    )
    watched = ("moto.", "opslib.config", "opslib.specs", "opslib.emulator.cloudwatch")
    modules = _imported_after(code, watched)
    assert [m for m in modules if m in SERVICE_MODULES or m.startswith("opslib.")] == []


def test_a_fix_applies_when_its_module_is_first_imported() -> None:
    """The SSM fixes (a backend and a parameter that pickle) hold once SSM is imported."""
    code = (
        "import pickle, sys\n"
        "from opslib.emulator.core import motofixes\n"
        "motofixes.install()\n"
        "assert 'moto.ssm.models' not in sys.modules\n"
        "from moto.ssm.models import ParameterDict, SimpleSystemManagerBackend\n"
        "backend = SimpleSystemManagerBackend('us-east-1', '123456789012')\n"
        "backend._resource_tags['Parameter']['p'] = {'k': 'v'}\n"
        "pickle.loads(pickle.dumps(backend))\n"
        "params = ParameterDict('123456789012', 'us-east-1')\n"
        "params['p'].append(1)\n"
        "assert pickle.loads(pickle.dumps(params)).region_name == 'us-east-1'\n"
        "from moto.codedeploy.responses import CodeDeployResponse\n"
        "assert hasattr(CodeDeployResponse, 'update_deployment_group')"
    )
    assert "moto.ssm.models" in _imported_after(code, ("moto.ssm",))


def test_a_module_imported_before_install_is_fixed_at_once() -> None:
    code = (
        "from moto.codebuild.responses import CodeBuildResponse\n"
        "assert not hasattr(CodeBuildResponse, 'update_project')\n"
        "from opslib.emulator.core import motofixes\n"
        "motofixes.install()\n"
        "assert hasattr(CodeBuildResponse, 'update_project')\n"
        "motofixes.apply()  # idempotent: a fix runs once"
    )
    assert "moto.codebuild.responses" in _imported_after(code, ("moto.codebuild",))


def test_a_config_without_schedules_imports_no_schedule_parser() -> None:
    """Every command reads the config: the schedule parser (zoneinfo, its regexes) and the
    "did you mean" matcher load only for a config that needs them."""
    code = "from opslib.config import parse_config\nparse_config({'stack': 'shop'})"
    watched = ("opslib.schedexpr", "difflib", "zoneinfo")
    assert _imported_after(code, watched) == []
    schedule = {"name": "daily", "runbook": "fleet-health", "expression": "rate(1 day)"}
    config = {"stack": "shop", "schedules": [schedule]}
    code = f"from opslib.config import parse_config\nparse_config({config!r})"
    assert "opslib.schedexpr" in _imported_after(code, watched)
