"""A local git repository standing in for the GitHub repository of a connection."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from opslib.exceptions import ExecutionError


@dataclass(frozen=True)
class Commit:
    """The head of a branch: what a Source action outputs as its revision."""

    sha: str
    message: str
    author_date: str  # ISO 8601
    commit_date: str  # ISO 8601


def _git(repo: Path, *args: str) -> bytes:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, check=True, timeout=120
        ).stdout
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode(errors="replace").strip().splitlines()
        raise ExecutionError(f"git {args[0]} in {repo}: {detail[-1] if detail else exc}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExecutionError(f"git {args[0]} in {repo}: {exc}") from exc


def branch_head(repo: Path, branch: str) -> Commit:
    """The commit at the head of ``branch`` (a clear error when repo or branch is missing)."""
    return commit_of(repo, f"refs/heads/{branch}")


def commit_of(repo: Path, revision: str) -> Commit:
    """The commit a revision names (SHA, prefix, tag or ref) in the local repository."""
    if not (repo / ".git").exists() and not repo.joinpath("HEAD").exists():
        raise ExecutionError(f"{repo} is not a git repository (the connection's local repository)")
    sha = _git(repo, "rev-parse", "--verify", f"{revision}^{{commit}}").decode().strip()
    fields = _git(repo, "log", "-1", "--format=%aI%x00%cI%x00%B", sha).decode().split("\0", 2)
    return Commit(sha=sha, author_date=fields[0], commit_date=fields[1], message=fields[2].strip())


def archive(repo: Path, sha: str) -> bytes:
    """The tree at ``sha`` as a zip (git keeps executable bits in the archive)."""
    return _git(repo, "archive", "--format=zip", sha)
