"""Composite alarms: parse an AlarmRule, evaluate it over the child alarms' states.

What this implements (API reference of PutCompositeAlarm; CloudWatch User Guide,
Create_Composite_Alarm; StateReason texts as real composite alarms write them):

- The rule language: ``ALARM(x)``, ``OK(x)``, ``INSUFFICIENT_DATA(x)`` where x is an alarm
  name or ARN, "surrounded with double-quotes, but do not have to be"; ``TRUE``, ``FALSE``
  (the guide writes ``False`` too, so keywords are case-insensitive); ``AND``, ``OR``,
  ``NOT`` (NOT binds tightest, then AND, then OR) and parentheses. Limits: 10,240
  characters, 100 child alarms, 500 elements (children, TRUE/FALSE, parenthesis pairs).
- Evaluation: TRUE -> ALARM, FALSE -> OK (INSUFFICIENT_DATA is only the state right after
  creation, which the service sets). Cycles between composites are found by :func:`find_cycle`.
- StateReason: "<child ARN> transitioned to ALARM at Friday 22 July, 2022 15:57:45 UTC"
  when a child's change triggered the evaluation, "<ARN> was created and its alarm rule
  evaluates to OK" / "... was updated and its new alarm rule evaluates to OK" otherwise;
  StateReasonData ``{"triggeringAlarms": [{"arn", "state": {"value", "timestamp"}}]}``.

Deliberately left out: actions suppression (ActionsSuppressor and its wait/extension
periods) — the service layer decides whether actions run; this module only says the state.
Syntax errors are ValidationError with our wording and the position (AWS's text unknown).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from opslib.emulator.cloudwatch.alarms import AlarmState, aws_time
from opslib.emulator.cloudwatch.metricerrors import ValidationError
from opslib.emulator.cloudwatch.tokens import Token, TokenCursor

MAX_RULE_LENGTH = 10240
MAX_CHILDREN = 100
MAX_ELEMENTS = 500
_FUNCTIONS = {state.value: state for state in AlarmState}


class RuleError(ValidationError):
    """An AlarmRule that does not parse or breaks a limit; ``position`` is 0-based."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class StateTest:
    """``ALARM(x)`` and friends: true when child ``alarm`` is in ``state``."""

    pos: int
    state: AlarmState
    alarm: str


@dataclass(frozen=True)
class Constant:
    pos: int
    value: bool


@dataclass(frozen=True)
class Not:
    pos: int
    operand: RuleNode


@dataclass(frozen=True)
class Junction:
    """``left AND right`` (``conjunction`` true) or ``left OR right``."""

    pos: int
    conjunction: bool
    left: RuleNode
    right: RuleNode


RuleNode = StateTest | Constant | Not | Junction


@dataclass(frozen=True)
class AlarmRule:
    """A parsed AlarmRule: its text, tree and the child alarms it names (first use order)."""

    text: str
    tree: RuleNode
    children: tuple[str, ...]


_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)|(?P<open>\()|(?P<close>\))|(?P<word>[A-Za-z_]+)""", re.VERBOSE
)


def _name_argument(text: str, pos: int) -> tuple[Token, int]:
    """The alarm name inside ALARM( ... ): quoted, or everything up to the closing paren."""
    if text.startswith('"', pos):
        end = text.find('"', pos + 1)
        if end < 0:
            raise RuleError(f"Unterminated quoted alarm name at position {pos}", pos)
        return Token("name", text[pos + 1 : end], pos), end + 1
    end = text.find(")", pos)
    if end < 0:
        raise RuleError(f"Expected ')' after the alarm name at position {len(text)}", len(text))
    name = text[pos:end].strip()
    if not name:
        raise RuleError(f"Missing alarm name at position {pos}", pos)
    return Token("name", name, pos), end


def _tokens(text: str) -> list[Token]:
    """Kinds: open | close | word | name (an alarm name argument) | end."""
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise RuleError(f"Unexpected character {text[pos]!r} at position {pos}", pos)
        kind = match.lastgroup or ""
        pos = match.end()
        if kind == "ws":
            continue
        out.append(Token(kind, match.group(), match.start()))
        if kind == "open" and len(out) > 1 and out[-2].text.upper() in _FUNCTIONS:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            name, pos = _name_argument(text, pos)
            out.append(name)
    out.append(Token("end", "", len(text)))
    return out


class _Parser(TokenCursor):
    def __init__(self, text: str) -> None:
        super().__init__(_tokens(text), RuleError)
        self.children: list[str] = []
        self.elements = 0

    def keyword(self, word: str) -> bool:
        return self.token.kind == "word" and self.token.text.upper() == word

    def expect(self, kind: str, what: str) -> Token:
        if self.token.kind != kind:
            found = "the end of the rule" if self.token.kind == "end" else repr(self.token.text)
            self.fail(f"Expected {what} but found {found}")
        return self.advance()

    def parse(self) -> RuleNode:
        if self.token.kind == "end":
            self.fail("The alarm rule is empty")
        node = self.disjunction()
        if self.token.kind != "end":
            self.fail(f"Unexpected {self.token.text!r}")
        return node

    def disjunction(self) -> RuleNode:
        node = self.conjunction()
        while self.keyword("OR"):
            token = self.advance()
            node = Junction(token.pos, False, node, self.conjunction())
        return node

    def conjunction(self) -> RuleNode:
        node = self.negation()
        while self.keyword("AND"):
            token = self.advance()
            node = Junction(token.pos, True, node, self.negation())
        return node

    def negation(self) -> RuleNode:
        if self.keyword("NOT"):
            token = self.advance()
            return Not(token.pos, self.negation())
        return self.atom()

    def atom(self) -> RuleNode:
        token = self.token
        if token.kind == "open":
            self.advance()
            self.elements += 1
            node = self.disjunction()
            self.expect("close", "')'")
            return node
        if token.kind == "word" and token.text.upper() in ("TRUE", "FALSE"):
            self.advance()
            self.elements += 1
            return Constant(token.pos, token.text.upper() == "TRUE")
        if token.kind == "word" and token.text.upper() in _FUNCTIONS:
            return self.state_test()
        if token.kind == "end":
            self.fail("Unexpected end of the rule")
        self.fail(
            f"Unexpected {token.text!r}; expected ALARM(), OK(), INSUFFICIENT_DATA(), TRUE or FALSE"
        )

    def state_test(self) -> RuleNode:
        function = self.advance()
        self.expect("open", "'('")
        name = self.expect("name", "an alarm name")
        self.expect("close", "')'")
        self.elements += 1
        if name.text not in self.children:
            self.children.append(name.text)
        return StateTest(function.pos, _FUNCTIONS[function.text.upper()], name.text)


def parse_alarm_rule(text: str) -> AlarmRule:
    """Parse and check an AlarmRule; raises :class:`RuleError` (ValidationError)."""
    if not 1 <= len(text) <= MAX_RULE_LENGTH:
        raise RuleError(f"AlarmRule must be 1 to {MAX_RULE_LENGTH} characters, not {len(text)}.")
    parser = _Parser(text)
    tree = parser.parse()
    if len(parser.children) > MAX_CHILDREN:
        raise RuleError(
            f"AlarmRule names {len(parser.children)} alarms; the maximum is {MAX_CHILDREN}."
        )
    if parser.elements > MAX_ELEMENTS:
        raise RuleError(f"AlarmRule has {parser.elements} elements; the maximum is {MAX_ELEMENTS}.")
    return AlarmRule(text, tree, tuple(parser.children))


# ---------------------------------------------------------------------------------------------
# Evaluation


@dataclass(frozen=True)
class ChildAlarm:
    """A child alarm's current state, as the composite sees it."""

    name: str
    arn: str
    state: AlarmState
    timestamp: float  # when it entered that state (StateUpdatedTimestamp)


class ChildLookup:
    """Children by name and by ARN, since a rule may use either."""

    def __init__(self, children: Sequence[ChildAlarm]) -> None:
        self._by_key: dict[str, ChildAlarm] = {}
        for child in children:
            self._by_key[child.name] = child
            self._by_key[child.arn] = child

    def __getitem__(self, key: str) -> ChildAlarm:
        try:
            return self._by_key[key]
        except KeyError:
            raise ValidationError(f"The alarm rule names {key}, which is not an alarm.") from None

    def __contains__(self, key: object) -> bool:
        return key in self._by_key


def rule_holds(node: RuleNode, children: ChildLookup) -> bool:
    """The truth of a rule (sub)tree over the children's states."""
    if isinstance(node, Constant):
        return node.value
    if isinstance(node, StateTest):
        return children[node.alarm].state is node.state
    if isinstance(node, Not):
        return not rule_holds(node.operand, children)
    if node.conjunction:
        return rule_holds(node.left, children) and rule_holds(node.right, children)
    return rule_holds(node.left, children) or rule_holds(node.right, children)


def _tests(node: RuleNode) -> Iterator[StateTest]:
    if isinstance(node, StateTest):
        yield node
    elif isinstance(node, Not):
        yield from _tests(node.operand)
    elif isinstance(node, Junction):
        yield from _tests(node.left)
        yield from _tests(node.right)


@dataclass(frozen=True)
class CompositeEvaluation:
    """The composite's state and AWS's StateReason / StateReasonData for it."""

    state: AlarmState
    reason: str
    reason_data: dict[str, object]


def long_time(timestamp: float) -> str:
    """ "Friday 22 July, 2022 15:57:45 UTC", as composite reasons and alarm e-mails write it."""
    return time.strftime("%A %d %B, %Y %H:%M:%S UTC", time.gmtime(timestamp))


def _triggering_entry(child: ChildAlarm) -> dict[str, object]:
    return {
        "arn": child.arn,
        "state": {"value": child.state.value, "timestamp": aws_time(child.timestamp)},
    }


def evaluate_composite(
    arn: str,
    rule: AlarmRule,
    children: Sequence[ChildAlarm],
    trigger: str | None = None,
    cause: str = "updated",
) -> CompositeEvaluation:
    """Evaluate ``rule``; ``trigger`` names the child whose change caused this evaluation.

    Without a trigger the reason says the composite was ``cause`` ("created" or "updated").
    """
    lookup = ChildLookup(children)
    state = AlarmState.ALARM if rule_holds(rule.tree, lookup) else AlarmState.OK
    if trigger is not None:
        child = lookup[trigger]
        reason = f"{child.arn} transitioned to {child.state.value} at {long_time(child.timestamp)}"
        triggering = [child]
    else:
        verb = (
            "was created and its alarm rule"
            if cause == "created"
            else "was updated and its new alarm rule"
        )
        reason = f"{arn} {verb} evaluates to {state.value}"
        true_tests = [t for t in _tests(rule.tree) if rule_holds(t, lookup)]
        triggering = list({lookup[t.alarm].arn: lookup[t.alarm] for t in true_tests}.values())
    return CompositeEvaluation(
        state, reason, {"triggeringAlarms": [_triggering_entry(c) for c in triggering]}
    )


def find_cycle(rules: Mapping[str, AlarmRule]) -> list[str] | None:
    """A cycle of composites naming each other (by name), or None; evaluation stops on one."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in visiting:
            return [*visiting[visiting.index(name) :], name]
        if name in done or name not in rules:
            return None
        visiting.append(name)
        for child in rules[name].children:
            found = visit(child)
            if found:
                return found
        visiting.pop()
        done.add(name)
        return None

    for name in rules:
        cycle = visit(name)
        if cycle:
            return cycle
    return None
