from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import botocore.exceptions
import pytest
from botocore.stub import Stubber

from opslib.config import StackConfig, override
from opslib.exceptions import AwsError, NotFoundError, TargetError
from opslib.target import Session, Target, TargetKind, aws_errors, paginate


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


def _page(name: str, token: str | None = None) -> dict[str, object]:
    page: dict[str, object] = {"actionExecutionDetails": [{"actionName": name}]}
    return {**page, "nextToken": token} if token else page


def test_paginate_follows_the_tokens_of_every_page() -> None:
    session = Session(Target.from_config(StackConfig()))
    with Stubber(session.client("codepipeline")) as stub:
        stub.add_response("list_action_executions", _page("a", "t1"), {"pipelineName": "p"})
        stub.add_response(
            "list_action_executions", _page("b"), {"pipelineName": "p", "nextToken": "t1"}
        )
        pages = paginate(session, "codepipeline", "ListActionExecutions", pipelineName="p")
        names = [d["actionName"] for page in pages for d in page["actionExecutionDetails"]]
        stub.assert_no_pending_responses()
    assert names == ["a", "b"]


def test_paginate_asks_no_page_its_reader_does_not_read() -> None:
    session = Session(Target.from_config(StackConfig()))
    with Stubber(session.client("codepipeline")) as stub:  # a second request would fail
        stub.add_response("list_action_executions", _page("a", "t1"), {"pipelineName": "p"})
        pages = paginate(session, "codepipeline", "ListActionExecutions", pipelineName="p")
        assert next(pages)["nextToken"] == "t1"
        pages.close()
        stub.assert_no_pending_responses()


def test_paginate_translates_an_error_on_a_later_page() -> None:
    session = Session(Target.from_config(StackConfig()))
    with Stubber(session.client("codepipeline")) as stub:
        stub.add_response("list_action_executions", _page("a", "t1"), {"pipelineName": "p"})
        stub.add_client_error("list_action_executions", "PipelineNotFoundException", "gone")
        with pytest.raises(NotFoundError, match="codepipeline.ListActionExecutions failed"):
            list(paginate(session, "codepipeline", "ListActionExecutions", pipelineName="p"))


def test_missing_credentials_are_a_target_error() -> None:
    with pytest.raises(TargetError, match="no AWS credentials"), aws_errors("s3", "ListBuckets"):
        raise botocore.exceptions.NoCredentialsError()


HTML_500 = b"""<!doctype html>
<html lang=en>
<title>500 Internal Server Error</title>
<h1>Internal Server Error</h1>
<p>The server encountered an internal error and was unable to complete your request.</p>
"""


@pytest.fixture
def html_500_endpoint() -> Iterator[str]:
    """A local server answering every request as a crashing web server does: an HTML 500."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(500)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(HTML_500)))
            self.end_headers()
            self.wfile.write(HTML_500)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("service", ["codebuild", "codepipeline"])
def test_an_html_error_page_becomes_one_line(html_500_endpoint: str, service: str) -> None:
    target = Target(TargetKind.LOCAL, "us-east-1", endpoint_url=html_500_endpoint)
    client = Session(target, max_attempts=1).client(service)
    operation = "list_projects" if service == "codebuild" else "list_pipelines"
    with pytest.raises(AwsError) as err, aws_errors(service, operation):
        getattr(client, operation)()
    message = str(err.value)
    assert "\n" not in message and "<" not in message, message
    assert "500 Internal Server Error" in message
