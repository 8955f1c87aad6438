"""CodeStar Connections (and its new name, CodeConnections), which moto lacks.

On AWS a GitHub connection stays PENDING until a person authorizes it in the console;
locally there is nobody to ask and nothing remote to reach, so a connection is AVAILABLE
at once. What it stands for locally is a git repository on this machine: the connection's
tag ``opslib:local-repository`` names it, and the pipeline's Source action reads it.
"""

from __future__ import annotations

import uuid
from typing import Any

from opslib.emulator.core.gateway import ApiException, ApiRequest, ApiResponse
from opslib.emulator.core.runtime import Runtime

KIND = "connection"
LOCAL_REPOSITORY_TAG = "opslib:local-repository"
SERVICES = ("codestar-connections", "codeconnections")


class ConnectionService:
    """Connections as records: create, read, list, delete and tag them."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def register(self) -> None:
        for service in SERVICES:
            for operation, handler in {
                "CreateConnection": self.create_connection,
                "GetConnection": self.get_connection,
                "ListConnections": self.list_connections,
                "DeleteConnection": self.delete_connection,
                "TagResource": self.tag_resource,
                "UntagResource": self.untag_resource,
                "ListTagsForResource": self.list_tags_for_resource,
            }.items():
                self.runtime.gateway.handle(service, operation, handler)

    def _get(self, arn: str) -> dict[str, Any]:
        record = self.runtime.records.get(KIND, arn)
        if record is None:
            raise ApiException("ResourceNotFoundException", f"Connection {arn} does not exist")
        return record

    def create_connection(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        name = params.get("ConnectionName", "")
        if any(c["ConnectionName"] == name for c in self.runtime.records.all(KIND)):
            raise ApiException(
                "ResourceAlreadyExistsException", f"Connection {name} already exists"
            )
        prefix = (
            "codeconnections" if request.service == "codeconnections" else "codestar-connections"
        )
        arn = f"arn:aws:{prefix}:{request.region}:{request.account_id}:connection/{uuid.uuid4()}"
        record = {
            "ConnectionName": name,
            "ConnectionArn": arn,
            "ProviderType": params.get("ProviderType", "GitHub"),
            "OwnerAccountId": request.account_id,
            "ConnectionStatus": "AVAILABLE",
            "Tags": list(params.get("Tags", [])),
        }
        self.runtime.records.put(KIND, arn, record)
        return ApiResponse.json({"ConnectionArn": arn, "Tags": record["Tags"]})

    def get_connection(self, request: ApiRequest) -> ApiResponse:
        record = self._get(request.params().get("ConnectionArn", ""))
        return ApiResponse.json({"Connection": _public(record)})

    def list_connections(self, request: ApiRequest) -> ApiResponse:
        wanted = request.params().get("ProviderTypeFilter")
        found = [
            _public(c)
            for c in self.runtime.records.all(KIND)
            if not wanted or c["ProviderType"] == wanted
        ]
        return ApiResponse.json({"Connections": found})

    def delete_connection(self, request: ApiRequest) -> ApiResponse:
        arn = request.params().get("ConnectionArn", "")
        self._get(arn)
        self.runtime.records.delete(KIND, arn)
        return ApiResponse.json({})

    def tag_resource(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        record = self._get(params.get("ResourceArn", ""))
        tags = {t["Key"]: t["Value"] for t in record["Tags"]}
        tags.update({t["Key"]: t["Value"] for t in params.get("Tags", [])})
        record["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        self.runtime.records.put(KIND, record["ConnectionArn"], record)
        return ApiResponse.json({})

    def untag_resource(self, request: ApiRequest) -> ApiResponse:
        params = request.params()
        record = self._get(params.get("ResourceArn", ""))
        drop = set(params.get("TagKeys", []))
        record["Tags"] = [t for t in record["Tags"] if t["Key"] not in drop]
        self.runtime.records.put(KIND, record["ConnectionArn"], record)
        return ApiResponse.json({})

    def list_tags_for_resource(self, request: ApiRequest) -> ApiResponse:
        record = self._get(request.params().get("ResourceArn", ""))
        return ApiResponse.json({"Tags": record["Tags"]})

    def local_repository(self, arn: str) -> str | None:
        """The local git repository a connection stands for (its tag), if any."""
        record = self.runtime.records.get(KIND, arn)
        tags = {t["Key"]: t["Value"] for t in (record or {}).get("Tags", [])}
        return tags.get(LOCAL_REPOSITORY_TAG)


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "Tags"}
