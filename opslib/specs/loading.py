"""Read a spec file (or inline text), run its checks and turn errors into :class:`SpecError`.

``validate_*`` never raise for content problems (a missing file is a finding too), so a lint
can show everything; ``load_*`` raise one SpecError carrying all findings when any is an
ERROR, so the emulator never runs a spec AWS would reject.
"""

from __future__ import annotations

from pathlib import Path

from opslib.exceptions import SpecError
from opslib.inputfiles import MAX_BYTES, UnusableFile, read_bounded
from opslib.specs.appspec import parse_appspec
from opslib.specs.appspec_model import Appspec
from opslib.specs.buildspec import parse_buildspec
from opslib.specs.buildspec_model import Buildspec
from opslib.specs.buildspec_paths import check_buildspec_paths
from opslib.specs.findings import Finding, FindingList
from opslib.specs.yamlnodes import parse_yaml


def validate_buildspec(
    path: Path | str, *, text: str | None = None, check_paths: bool = True
) -> list[Finding]:
    """All findings for a buildspec; ``text`` replaces the file's content (path names it)."""
    return _buildspec(Path(path), text, check_paths)[0]


def load_buildspec(
    path: Path | str, *, text: str | None = None, check_paths: bool = True
) -> Buildspec:
    """The buildspec's model; raises SpecError when any finding is an error."""
    findings, spec = _buildspec(Path(path), text, check_paths)
    _raise_on_errors(str(path), findings)
    assert spec is not None  # no errors implies a model
    return spec


def validate_appspec(
    path: Path | str, *, text: str | None = None, check_paths: bool = True
) -> list[Finding]:
    """All findings for an appspec; ``text`` replaces the file's content (path names it)."""
    return _appspec(Path(path), text, check_paths)[0]


def load_appspec(path: Path | str, *, text: str | None = None, check_paths: bool = True) -> Appspec:
    """The appspec's model; raises SpecError when any finding is an error."""
    findings, spec = _appspec(Path(path), text, check_paths)
    _raise_on_errors(str(path), findings)
    assert spec is not None
    return spec


def _buildspec(
    path: Path, text: str | None, check_paths: bool
) -> tuple[list[Finding], Buildspec | None]:
    """Read, parse and check a buildspec; paths are relative to the file's directory."""
    out = FindingList(str(path))
    source = read_text(path, text, out)
    root = parse_yaml(source, out) if source is not None else None
    if root is None:
        return out.sorted(), None
    spec, refs = parse_buildspec(root, out)
    if spec is not None and check_paths:
        check_buildspec_paths(refs, spec.all_commands(), path.parent, path.name, out)
    return out.sorted(), spec


def _appspec(
    path: Path, text: str | None, check_paths: bool
) -> tuple[list[Finding], Appspec | None]:
    """Read, parse and check an appspec; scripts are relative to the file's directory."""
    out = FindingList(str(path))
    source = read_text(path, text, out)
    root = parse_yaml(source, out) if source is not None else None
    if root is None:
        return out.sorted(), None
    spec_dir = path.parent if check_paths else None
    built_by = bundle_commands(path.parent) if check_paths else None
    spec = parse_appspec(root, out, spec_dir, built_by)
    return out.sorted(), spec


BUILDSPEC_NAMES = ("buildspec.yml", "buildspec.yaml")


def bundle_commands(spec_dir: Path) -> list[str] | None:
    """The commands of the buildspec beside an appspec (which assemble its bundle), or None.

    In this layout (the repository's own) the revision bundle is what the build makes, so a
    files source may exist only after the build. A buildspec with errors counts as absent:
    lint reports those on their own.
    """
    for name in BUILDSPEC_NAMES:
        candidate = spec_dir / name
        if candidate.is_file():
            findings, spec = _buildspec(candidate, None, check_paths=False)
            if spec is not None and not any(f.is_error for f in findings):
                return spec.all_commands()
            return None
    return None


def read_text(path: Path, text: str | None, out: FindingList) -> str | None:
    """The spec's text: ``text`` if given, else the file's; an unreadable file is a finding.

    Only a regular file of at most 1 MiB is read (:mod:`opslib.inputfiles`): a FIFO or a
    device would block or never end.
    """
    if text is not None:
        if len(text) > MAX_BYTES:
            out.error(0, "", f"is larger than {MAX_BYTES} characters; opslib reads at most that")
            return None
        return text
    try:
        return read_bounded(path)
    except UnusableFile as exc:
        out.error(0, "", str(exc))
    except FileNotFoundError:
        out.error(0, "", "file not found")
    except IsADirectoryError:
        out.error(0, "", "is a directory, not a file")
    except UnicodeDecodeError as exc:
        out.error(0, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    except OSError as exc:
        out.error(0, "", f"cannot read: {exc.strerror or exc}")
    return None


def _raise_on_errors(file: str, findings: list[Finding]) -> None:
    """Raise one SpecError whose one-line message counts the errors and quotes the first."""
    errors = [f for f in findings if f.is_error]
    if not errors:
        return
    first = errors[0]
    where = f"line {first.line}: " if first.line > 0 else ""
    key = f"{first.key_path}: " if first.key_path else ""
    plural = "s" if len(errors) != 1 else ""
    message = f"{file}: {len(errors)} error{plural} (first: {where}{key}{first.message})"
    raise SpecError(message, findings)
