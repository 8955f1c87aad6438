from __future__ import annotations

import botocore.exceptions
import pytest

from opslib.config import StackConfig, override
from opslib.exceptions import AwsError, NotFoundError, TargetError
from opslib.target import Session, Target, TargetKind, aws_errors


def test_local_target_points_at_the_emulator() -> None:
    target = Target.from_config(StackConfig())
    assert target.kind is TargetKind.LOCAL
    assert target.endpoint_url == "http://127.0.0.1:4599"
    client = Session(target).client("s3")
    assert client.meta.endpoint_url == "http://127.0.0.1:4599"
    assert client.meta.region_name == "us-east-1"


def test_local_target_never_uses_the_users_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    creds = Session(Target.from_config(StackConfig()))._boto.get_credentials()
    assert creds is not None and creds.access_key == "opslib-local"


def test_aws_target_has_no_endpoint_override() -> None:
    target = Target.from_config(override(StackConfig(), target="aws", region="eu-west-1"))
    assert target.endpoint_url is None
    assert "eu-west-1" in target.describe()


def test_clients_are_cached_and_retry_in_standard_mode() -> None:
    session = Session(Target.from_config(StackConfig()))
    client = session.client("codebuild")
    assert session.client("codebuild") is client
    assert client.meta.config.retries["mode"] == "standard"


def test_unknown_profile_is_a_target_error() -> None:
    target = Target(TargetKind.AWS, "us-east-1", profile="no-such-profile-opslib")
    with pytest.raises(TargetError, match="profile 'no-such-profile-opslib' not found"):
        Session(target)


def _client_error(code: str) -> botocore.exceptions.ClientError:
    response = {"Error": {"Code": code, "Message": "it went wrong"}}
    return botocore.exceptions.ClientError(response, "GetPipeline")  # type: ignore[arg-type]


def test_client_errors_are_translated_once() -> None:
    with pytest.raises(NotFoundError) as err, aws_errors("codepipeline", "GetPipeline"):
        raise _client_error("PipelineNotFoundException")
    assert err.value.code == "PipelineNotFoundException"
    assert str(err.value) == (
        "codepipeline.GetPipeline failed: PipelineNotFoundException: it went wrong"
    )
    with pytest.raises(AwsError) as other, aws_errors("s3", "PutObject"):
        raise _client_error("AccessDenied")
    assert not isinstance(other.value, NotFoundError)


def test_missing_credentials_are_a_target_error() -> None:
    with pytest.raises(TargetError, match="no AWS credentials"), aws_errors("s3", "ListBuckets"):
        raise botocore.exceptions.NoCredentialsError()
