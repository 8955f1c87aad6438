"""CloudWatch Logs filter patterns: parse once into a matcher, then match messages fast.

The same syntax serves FilterLogEvents, metric filters and subscription filters
(FilterAndPatternSyntax in the CloudWatch Logs User Guide). A pattern is one of:

* **empty** (or only blanks): every event matches.
* **terms** (unstructured events)::

      ERROR ARGUMENTS          every term must occur (AND); case-sensitive substring match,
                               so ERROR also matches "ERRORCODE" as the guide's example shows
      "INTERNAL SERVER ERROR"  a quoted phrase; quotes are needed for any character other
                               than letters, digits and underscore; \\" and \\\\ escape
      ?ERROR ?WARN             at least one of the ?-terms must occur
      ERROR -ARGUMENTS         no -term may occur
      %ERR[0-9]+%              a regular expression term (the guide's restricted set)
      " "                      a blank phrase matches everything

  With plain, ``?`` and ``-`` terms mixed, an event matches when all plain terms occur, at
  least one ``?``-term occurs and no ``-``-term occurs (AWS does not document mixing).
* **JSON** ``{ ... }``: the message must be a JSON object. ``SELECTOR OP VALUE`` where the
  selector is ``$.name`` followed by ``.name`` / ``[index]`` steps (``$.a.b[0][1].c``; names
  are letters, digits, ``-`` and ``_``); OP is ``= != < <= > >=``; VALUE a number (sign and
  ``1e-3`` allowed), a bare or quoted string with ``*`` wildcards at its start and/or end,
  or a ``%regex%``. Also ``SELECTOR IS NULL|TRUE|FALSE`` and ``SELECTOR NOT EXISTS``;
  ``&&`` binds tighter than ``||``; parentheses group. A selector must point at a value
  (string, number, boolean): on an object, an array, null or nothing both ``=`` and
  ``!=`` are false, as the guide says.
* **space-delimited** ``[ip, user, ..., status_code = 4*, bytes > 1000]``: the message is
  split on blanks, ``"..."`` and ``[...]`` each being one field (without the delimiters);
  the pattern names each field in order; ``...`` stands for any number of fields; an empty
  name is an unnamed field. A field may carry conditions on itself joined by ``&&``/``||``
  (``status_code = 404 || status_code = 410``), with the operators and values of JSON
  patterns. Without ``...`` the number of fields must be exact.

:meth:`FilterPattern.extract` gives a matching event's fields for metric filters:
``$.selector`` keys (the selectors the JSON pattern names) or ``$name`` keys (named fields;
unnamed and ellipsis fields as ``$<position>``, 1-based), values as strings, exactly the
guide's "extracted fields" example. :func:`parse_metric_value` checks a metricValue (a
number, or such a field reference, which must occur in the pattern as the CDK documents)
and reads it: a non-numeric field value yields no datapoint for that event (verify).

Malformed patterns raise :class:`FilterPatternError` with the 0-based position. Its message
is ``Invalid filter pattern: <detail>`` (the newest wording seen from AWS); where AWS's
own detail is known it is used verbatim: ``Invalid character(s) in term '<c>'`` (the first
offending character, ``'""'`` for an empty phrase, ``'$."'`` for a quoted selector) and
``If a filter pattern starts with '{' it must end with '}'``.

Deliberately left out: ``EXISTS`` and ``IS NOT`` (the guide says they are not supported;
use ``= *`` or ``NOT EXISTS``), which are rejected; a ``*`` in the middle of a value is a
literal, as the guide's ``Ev*ent`` example says; the quota of two regexes per pattern is
not enforced; regexes run on Python's ``re``, which accepts the guide's subset. One
shortcut stands on an assumption: before decoding, a message must contain the plain
strings an ``=`` needs (see :mod:`.jsonpattern`); a JSON writer that spelled letters or
digits as ``\\uXXXX`` escapes would defeat it, and none of the common ones does.
"""

from __future__ import annotations

from opslib.emulator.cloudwatch.patterns.base import (
    Fields,
    FilterPattern,
    FilterPatternError,
    MetricValueError,
    PatternKind,
    extract_all,
    match_all,
)
from opslib.emulator.cloudwatch.patterns.delimited import parse_delimited, split_delimited
from opslib.emulator.cloudwatch.patterns.jsonpattern import JsonParser
from opslib.emulator.cloudwatch.patterns.metricvalue import (
    MetricValue,
    field_reference,
    parse_metric_value,
)
from opslib.emulator.cloudwatch.patterns.terms import parse_terms

__all__ = [
    "Fields",
    "FilterPattern",
    "FilterPatternError",
    "MetricValue",
    "MetricValueError",
    "PatternKind",
    "field_reference",
    "parse_filter_pattern",
    "parse_metric_value",
    "split_delimited",
]


def parse_filter_pattern(text: str) -> FilterPattern:
    """Parse ``text`` once; raises :class:`FilterPatternError` if AWS would reject it."""
    stripped = text.strip()
    start = len(text) - len(text.lstrip())
    if not stripped:
        return FilterPattern(text, PatternKind.ALL, frozenset(), extract_all, match_all)
    if stripped.startswith("{"):
        if not stripped.endswith("}"):
            detail = "If a filter pattern starts with '{' it must end with '}'"
            raise FilterPatternError(detail, start + len(stripped) - 1)
        return JsonParser(text, start + 1, start + len(stripped) - 1).pattern()
    if stripped.startswith("["):
        if not stripped.endswith("]"):
            detail = "If a filter pattern starts with '[' it must end with ']'"
            raise FilterPatternError(detail, start + len(stripped) - 1)
        return parse_delimited(text, start + 1, start + len(stripped) - 1)
    return parse_terms(text)
