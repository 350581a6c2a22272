"""deploy/observability: every event and field the dashboard and the alert rules query is one
rotator really logs.

A real scenario (real OpenBao, Redis and the Composio emulator, in process) produces every event
the queries use; the JSON lines it logs give, per event, the fields actually emitted and their
values. A small LogQL reader then takes every query apart (stream selector, ``| json``, label
filters, ``unwrap``, ``keep``/``drop``, ``line_format``, ``by``/``without``, legends and alert
templates) and each name must be one of those: a misspelled field fails, and so does any query
the reader cannot follow. There is no Loki here: the syntax itself is not Loki-checked.
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from rotator.devkit.emulator import Fault
from rotator.worker.sweep import sweep
from tests.helpers import COMPOSIO_KEY, Stack
from tests.paths import ROOT

DASHBOARD = ROOT / "deploy/observability/grafana-dashboard.json"
RULES = ROOT / "deploy/observability/alert-rules.yaml"

SELECTOR = ("app", "=", "rotator")  # the stream label the log shipper sets (documented)
GRAFANA_VARS = {
    "${app}": "rotator",
    "$app": "rotator",
    "$__interval": "1m",
    "$__range": "1h",
    "$__auto": "1m",
}
ERROR_LABELS = frozenset({"__error__", "__error_details__"})
LABEL_OPS = frozenset({"=", "!=", "=~", "!~", "==", ">", ">=", "<", "<="})
NUMERIC_OPS = frozenset({"==", ">", ">=", "<", "<="})
LINE_FILTERS = frozenset({"|=", "|~", "!=", "!~"})
UNWRAP_CONVERSIONS = frozenset({"duration", "duration_seconds", "bytes"})
DURATION = re.compile(r"(\d+(ms|s|m|h|d|w|y))+")

# event -> field -> every value logged under it (Loki's ``| json`` view: nested objects
# flattened with "_", arrays left out).
Emitted = dict[str, dict[str, list[object]]]


# -- the LogQL reader ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`)
    | (?P<op>\|=|\|~|!=|!~|=~|==|>=|<=|[=<>|,(){}\[\]])
    | (?P<number>\d+(?:\.\d+)?(?:[A-Za-z]+\d*)*)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<arith>[-+*/%^])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str

    def string(self) -> str | None:
        """A string literal's value (Go escapes for "...", raw for `...`), else None."""
        if self.kind != "string":
            return None
        if self.text.startswith("`"):
            return self.text[1:-1]
        try:
            return str(json.loads(self.text))
        except ValueError:
            return None


_END = Tok("end", "")


def tokenize(text: str) -> tuple[list[Tok], list[str]]:
    toks: list[Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            return toks, [f"cannot read LogQL at {text[pos : pos + 20]!r}"]
        if m.lastgroup != "space":
            toks.append(Tok(m.lastgroup, m.group()))
        pos = m.end()
    return toks, []


@dataclass(frozen=True)
class Ref:
    """A field name used in a pipeline: where, and whether ``| json`` came before it."""

    name: str
    where: str
    after_json: bool


@dataclass(frozen=True)
class Filter:
    name: str
    op: str
    value: Tok
    after_json: bool


@dataclass
class Pipeline:
    selector: list[tuple[str, str, str]] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    refs: list[Ref] = field(default_factory=list)
    unwrapped: list[str] = field(default_factory=list)
    json: bool = False


@dataclass
class Query:
    pipelines: list[Pipeline] = field(default_factory=list)
    grouping: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class _Reader:
    """A recursive-descent reader for the LogQL subset rotator's queries use."""

    def __init__(self, toks: list[Tok], problems: list[str]) -> None:
        self.toks, self.i, self.problems = toks, 0, problems

    def peek(self, ahead: int = 0) -> Tok:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else _END

    def take(self) -> Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, kind: str, text: str | None = None) -> Tok:
        tok = self.take()
        if tok.kind != kind or (text is not None and tok.text != text):
            self.problems.append(f"expected {text or kind}, found {tok.text or 'the end'!r}")
        return tok

    def query(self) -> Query:
        q = Query(problems=self.problems)
        while self.peek() is not _END:
            tok = self.peek()
            if tok.text == "{":
                q.pipelines.append(self.pipeline())
            elif tok.text in ("by", "without") and self.peek(1).text == "(":
                self.take()
                q.grouping.extend(self.names_in_parens())
            elif tok.text == "[":
                self.range_()
            else:
                if tok.kind == "ident" and self.peek(1).text == "(":
                    q.functions.append(tok.text)
                self.take()
        return q

    def names_in_parens(self) -> list[str]:
        self.expect("op", "(")
        names: list[str] = []
        while self.peek().text not in (")", ""):
            names.append(self.expect("ident").text)
            if self.peek().text == ",":
                self.take()
        self.expect("op", ")")
        return names

    def range_(self) -> None:
        self.expect("op", "[")
        tok = self.take()
        if not DURATION.fullmatch(tok.text):
            self.problems.append(f"range [{tok.text}] is not a duration")
        self.expect("op", "]")

    def pipeline(self) -> Pipeline:
        p = Pipeline()
        self.expect("op", "{")
        while self.peek().text not in ("}", ""):
            name, op = self.expect("ident").text, self.take().text
            p.selector.append((name, op, self.take().string() or ""))
            if self.peek().text == ",":
                self.take()
        self.expect("op", "}")
        while True:
            tok = self.peek()
            if tok.text in LINE_FILTERS:
                self.take()
                self.expect("string")
            elif tok.text == "|":
                self.take()
                self.stage(p)
            else:
                return p

    def stage(self, p: Pipeline) -> None:
        tok = self.take()
        handler = {
            "json": self.json_stage,
            "unwrap": self.unwrap_stage,
            "keep": self.keep_stage,
            "drop": self.keep_stage,
            "line_format": self.line_format_stage,
        }.get(tok.text)
        if handler is not None:
            handler(p, tok.text)
        elif tok.kind == "ident" and self.peek().text in LABEL_OPS:
            self.label_filters(p, tok)
        else:
            self.problems.append(f"unsupported pipeline stage | {tok.text}")

    def json_stage(self, p: Pipeline, _: str) -> None:
        if self.peek().kind == "ident" and self.peek(1).text == "=":
            self.problems.append("use a plain | json (json with parameters renames fields)")
        p.json = True

    def unwrap_stage(self, p: Pipeline, _: str) -> None:
        name = self.expect("ident").text
        if name in UNWRAP_CONVERSIONS and self.peek().text == "(":
            self.take()
            name = self.expect("ident").text
            self.expect("op", ")")
        p.refs.append(Ref(name, "unwrap", p.json))
        p.unwrapped.append(name)

    def keep_stage(self, p: Pipeline, stage: str) -> None:
        while True:
            p.refs.append(Ref(self.expect("ident").text, stage, p.json))
            if self.peek().text in LABEL_OPS:
                self.take()
                self.expect("string")
            if self.peek().text != ",":
                return
            self.take()

    def line_format_stage(self, p: Pipeline, stage: str) -> None:
        template = self.expect("string").string() or ""
        for name in re.findall(r"\{\{[^}]*?\.([A-Za-z_]\w*)", template):
            p.refs.append(Ref(name, stage, p.json))

    def label_filters(self, p: Pipeline, first: Tok) -> None:
        name = first
        while True:
            op = self.take().text
            value = self.take()
            if value.kind not in ("string", "number"):
                self.problems.append(f"label filter {name.text}{op} needs a value")
            p.filters.append(Filter(name.text, op, value, p.json))
            if name.text != "event" and name.text not in ERROR_LABELS:
                p.refs.append(Ref(name.text, "label filter", p.json))
            if self.peek().text not in ("and", "or", ","):
                return
            self.take()
            name = self.expect("ident")
            if self.peek().text not in LABEL_OPS:
                self.problems.append(f"expected a comparison after {name.text}")
                return


def parse_logql(expr: str) -> Query:
    """Read one LogQL query; Grafana variables get example values first."""
    text = expr
    for var, value in GRAFANA_VARS.items():
        text = text.replace(var, value)
    toks, problems = tokenize(text)
    problems += [f"unknown variable {v}" for v in re.findall(r"\$\{?\w+", text)]
    return _Reader(toks, problems).query()


def expand_alternation(regex: str) -> set[str] | None:
    """The strings a regex of literals, ``\\.``-style escapes, groups and ``|`` matches; None
    for anything else (wildcards would hide a misspelled event name)."""

    def alternatives(i: int) -> tuple[set[str], int]:
        found, i = sequence(i)
        while i < len(regex) and regex[i] == "|":
            more, i = sequence(i + 1)
            found |= more
        return found, i

    def sequence(i: int) -> tuple[set[str], int]:
        out = {""}
        while i < len(regex) and regex[i] not in "|)":
            if regex[i] == "(":
                inner, i = alternatives(i + 1)
                if i >= len(regex) or regex[i] != ")":
                    raise ValueError("unbalanced group")
                pieces, i = inner, i + 1
            elif regex[i] == "\\" and i + 1 < len(regex) and not regex[i + 1].isalnum():
                pieces, i = {regex[i + 1]}, i + 2
            elif regex[i] in ".*+?[]{}^$\\":
                raise ValueError(f"regex operator {regex[i]!r}")
            else:
                pieces, i = {regex[i]}, i + 1
            out = {o + p for o in out for p in pieces}
        return out, i

    try:
        found, end = alternatives(0)
    except ValueError:
        return None
    return found if end == len(regex) else None


# -- checking a query against what was emitted -----------------------------------------------------


def fields_of(emitted: Emitted, event: str) -> set[str]:
    """Fields logged with a value (not only null) on at least one line of ``event``."""
    return {f for f, values in emitted.get(event, {}).items() if any(v is not None for v in values)}


def values_of(emitted: Emitted, events: set[str], name: str) -> list[object]:
    return [v for e in events for v in emitted.get(e, {}).get(name, []) if v is not None]


def _loki_text(value: object) -> str:
    """How Loki's json parser renders a JSON scalar as a label value."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def selected_events(p: Pipeline, emitted: Emitted, problems: list[str]) -> set[str]:
    """The events a pipeline's ``event`` filters select; every one must have been logged."""
    selected: set[str] | None = None
    for f in (f for f in p.filters if f.name == "event"):
        text = f.value.string()
        names = (
            {text}
            if f.op == "=" and text is not None
            else expand_alternation(text)
            if f.op == "=~" and text is not None
            else None
        )
        if names is None:
            problems.append(f"event{f.op}{f.value.text}: select events with = or =~ literals")
            continue
        if not f.after_json:
            problems.append(f"event{f.op}{f.value.text} comes before | json")
        problems += [f"event {n!r} is never logged" for n in sorted(names - emitted.keys())]
        selected = names if selected is None else selected & names
    if selected is None:
        problems.append("the query selects no event: filter on event after | json")
    return {e for e in selected or set() if e in emitted}


def check_filter(f: Filter, events: set[str], emitted: Emitted) -> list[str]:
    """A label filter's value must be one that was logged (numbers: the field is numeric)."""
    if f.name == "event" or f.name in ERROR_LABELS:
        return []
    logged = values_of(emitted, events, f.name)
    text = f.value.string()
    if f.op in NUMERIC_OPS or f.value.kind == "number":
        if any(_is_number(v) for v in logged):
            return []
        return [f"{f.name}{f.op}{f.value.text}: {f.name} is never a number"]
    wanted = expand_alternation(text or "") if f.op in ("=~", "!~") else {text or ""}
    seen = {_loki_text(v) for v in logged}
    if wanted is None:
        return [f"{f.name}{f.op}{f.value.text}: use = or =~ with literals"]
    return [
        f"{f.name}{f.op}{f.value.text}: {f.name} was never logged as {w!r}"
        for w in sorted(wanted - seen - {""})
    ]


def check_pipeline(p: Pipeline, emitted: Emitted, problems: list[str]) -> set[str]:
    """Problems of one pipeline; returns the labels it can be grouped by."""
    if p.selector != [SELECTOR]:
        problems.append(f'stream selector {p.selector}: use {{app="$app"}} (app=rotator)')
    if not p.json:
        problems.append("the pipeline has no | json")
    events = selected_events(p, emitted, problems)
    common = set.intersection(*(fields_of(emitted, e) for e in events)) if events else set()
    for ref in p.refs:
        if not ref.after_json:
            problems.append(f"{ref.where} {ref.name!r} comes before | json")
        elif ref.name not in common:
            missing = sorted(e for e in events if ref.name not in fields_of(emitted, e))
            problems.append(f"{ref.where} {ref.name!r} is not logged on {missing or 'any event'}")
    for f in p.filters:
        problems += check_filter(f, events, emitted)
    for name in p.unwrapped:
        logged = values_of(emitted, events, name)
        if not logged or not all(_is_number(v) for v in logged):
            problems.append(f"unwrap {name}: not a number on every {sorted(events)} line")
    return common | {"event"} | {name for name, _, _ in p.selector}


def check_query(expr: str, emitted: Emitted, legend: str = "") -> list[str]:
    """Everything wrong with one query, given what rotator emitted; [] when it is sound."""
    q = parse_logql(expr)
    problems = list(q.problems)
    if not q.pipelines:
        problems.append("no log pipeline ({...} | json | ...)")
    labels = [check_pipeline(p, emitted, problems) for p in q.pipelines]
    for name in q.grouping:
        if not all(name in allowed for allowed in labels):
            problems.append(f"by/without {name!r}: not a label of every pipeline")
    usable = set(q.grouping) if q.grouping else set().union(*labels)
    for name in re.findall(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}", legend):
        if name not in usable:
            problems.append(f"legend {{{{{name}}}}} is not a label of the result")
    return problems


def result_labels(expr: str) -> set[str]:
    """Labels an alert's result carries: its grouping, or for absent_over_time its selector."""
    q = parse_logql(expr)
    labels = set(q.grouping)
    if "absent_over_time" in q.functions:
        labels |= {name for p in q.pipelines for name, op, _ in p.selector if op == "="}
    return labels


# -- the artifacts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    where: str
    expr: str
    legend: str


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_targets(dashboard: dict[str, Any]) -> list[Target]:
    return [
        Target(f"panel {panel['title']!r} {t['refId']}", t["expr"], t.get("legendFormat", ""))
        for panel in _panels(dashboard["panels"])
        for t in panel.get("targets", [])
    ]


def load_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    assert isinstance(doc, dict)
    return [rule for group in doc["groups"] for rule in group["rules"]]


def rule_templates(rule: dict[str, Any]) -> str:
    return " ".join(str(v) for v in {**rule.get("labels", {}), **rule["annotations"]}.values())


# -- the scenario ----------------------------------------------------------------------------------


def _flatten(record: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, object]]:
    for key, value in record.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}_")
        elif not isinstance(value, list):
            yield f"{prefix}{key}", value


def emitted_from(lines: str) -> Emitted:
    emitted: Emitted = defaultdict(lambda: defaultdict(list))
    for line in lines.splitlines():
        record = json.loads(line)  # every line is JSON: a ValueError fails the test
        event = record.pop("event")
        for name, value in _flatten(record):
            emitted[event][name].append(value)
    return {event: dict(fields) for event, fields in emitted.items()}


@pytest.fixture
def emitted(stack: Stack, log_stream: io.StringIO) -> Emitted:
    """Run every situation the dashboard and rules show; what was logged, event by event."""
    service = stack.rt.service
    stack.put("ac_ob_ok", {"credentials": {"client_secret": "sec-ob-ok"}})
    assert service.rotate("ac_ob_ok").result == "succeeded"
    assert service.rotate("ac_ob_ok").result == "skipped"
    stack.put("ac_ob_503", {"credentials": {"client_secret": "sec-ob-503"}})
    stack.emu.inject(Fault(status=503), nanoid="ac_ob_503", times=1)
    assert service.rotate("ac_ob_503").attempts == 2  # an in-call retry, then success
    stack.put("ac_ob_later", {"credentials": {"client_secret": "sec-ob-later"}})
    stack.emu.inject(Fault(status=503), nanoid="ac_ob_later", times=3)
    assert service.rotate("ac_ob_later").result == "retry_later"  # back to the queue
    stack.put("ac_ob_400", {"credentials": {"client_secret": "sec-ob-400"}})
    stack.emu.inject(Fault(status=400), nanoid="ac_ob_400", times=None)
    for _ in range(stack.rt.settings.quarantine_after):
        assert service.rotate("ac_ob_400").result == "failed"
    summary = sweep(stack.rt, enqueue=lambda nanoid, force: None, queue_ttl=60)
    assert summary.quarantined == 1 and summary.queued == 1  # ac_ob_later is queued again
    stack.put("ac_ob_key", {"credentials": {"client_secret": "sec-ob-key"}})
    stack.emu.set_api_keys(["ck_revoked_0000"])  # Composio rejects rotator's key: breaker opens
    assert service.rotate("ac_ob_key").reason == "circuit_open"
    stack.emu.set_api_keys([COMPOSIO_KEY])
    service.breaker.store.release_probe()  # the next probe slot now, not in 20 s
    assert service.rotate("ac_ob_key").result == "succeeded"  # the probe closes the breaker
    return emitted_from(log_stream.getvalue())


# -- the tests -------------------------------------------------------------------------------------


def test_every_dashboard_query_uses_only_logged_events_and_fields(emitted: Emitted) -> None:
    """Each panel query (and legend) names only events and fields the scenario logged."""
    dashboard = json.loads(DASHBOARD.read_text())
    targets = dashboard_targets(dashboard)
    assert len(targets) >= 10
    problems = {t.where: check_query(t.expr, emitted, t.legend) for t in targets}
    assert {where: p for where, p in problems.items() if p} == {}
    for panel in _panels(dashboard["panels"]):
        assert panel["datasource"] == {"type": "loki", "uid": "${datasource}"}, panel["title"]
    [variable] = [v for v in dashboard["templating"]["list"] if v["name"] == "datasource"]
    assert variable["query"] == "loki"


def test_every_alert_rule_uses_only_logged_events_and_fields(
    emitted: Emitted, stack: Stack
) -> None:
    """Each rule's LogQL names only logged events and fields; its templates only its labels."""
    rules = load_rules()
    assert {r["alert"] for r in rules} == {
        "RotatorRotationFailed",
        "RotatorDeadLetterGrowing",
        "RotatorNoSweep",
        "RotatorQuarantine",
        "RotatorAmbiguousSource",
        "RotatorCircuitOpen",
    }
    for rule in rules:
        assert check_query(rule["expr"], emitted) == [], rule["alert"]
        used = set(re.findall(r"\$labels\.(\w+)", rule_templates(rule)))
        assert used <= result_labels(rule["expr"]), rule["alert"]
    # "No sweep for 3 intervals": 3 x the default ROTATOR_SWEEP_INTERVAL.
    [no_sweep] = [r for r in rules if r["alert"] == "RotatorNoSweep"]
    assert stack.rt.settings.sweep_interval == 60
    assert 'event="sweep.completed" [3m])' in no_sweep["expr"]
    assert "absent_over_time" in parse_logql(no_sweep["expr"]).functions


def test_the_dashboard_and_rules_show_what_operators_need(emitted: Emitted) -> None:
    """The panels and alerts the runbook names exist, on the events and fields they need."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [parse_logql(t.expr) for t in dashboard_targets(dashboard)]
    queries += [parse_logql(r["expr"]) for r in load_rules()]

    def uses(event: str, *, by: tuple[str, ...] = (), unwrap: str = "", fn: str = "") -> bool:
        return any(
            any(
                f.name == "event" and f.value.string() == event
                for p in q.pipelines
                for f in p.filters
            )
            and set(by) <= set(q.grouping)
            and (not unwrap or any(unwrap in p.unwrapped for p in q.pipelines))
            and (not fn or fn in q.functions)
            for q in queries
        )

    assert uses("rotation.failed", by=("error_slug", "http_status"))
    assert uses("rotation.failed", by=("auth_config_id",))
    assert uses("rotation.retrying", fn="rate")
    assert uses("rotation.succeeded", unwrap="duration_ms", fn="quantile_over_time")
    assert uses("sweep.completed", unwrap="quarantined")
    assert uses("sweep.completed", fn="absent_over_time")
    assert uses("composio.circuit_open", by=("cause",)) and uses("composio.circuit_closed")
    assert uses("rotation.waiting", by=("reason",))
    assert emitted["composio.circuit_open"]["cause"] == ["key_rejected"]
    assert emitted["rotation.waiting"]["reason"] == ["circuit_open"]
    outcomes = [q for q in queries if "outcome" in q.grouping]
    assert outcomes and all(
        expand_alternation(f.value.string() or "")
        == {
            "rotation.succeeded",
            "rotation.skipped",
            "rotation.retrying",
            "rotation.failed",
        }
        for q in outcomes
        for p in q.pipelines
        for f in p.filters
        if f.name == "event"
    )
    # every event the artifacts use was produced by the scenario (checked field by field above)
    used = {
        f.value.string() for q in queries for p in q.pipelines for f in p.filters if f.op == "="
    }
    assert {e for e in used if e and e.startswith(("rotation.", "sweep.", "composio."))} <= (
        emitted.keys()
    )


def test_a_misspelled_name_in_any_dashboard_or_rule_query_fails(emitted: Emitted) -> None:
    """Misspell each event and field each query uses, one at a time: the check must object."""
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [(t.expr, t.legend) for t in dashboard_targets(dashboard)]
    exprs += [(r["expr"], "") for r in load_rules()]
    mutated = 0
    for expr, legend in exprs:
        q = parse_logql(expr)
        names = {r.name for p in q.pipelines for r in p.refs} | set(q.grouping)
        names |= {f.value.string() or "" for p in q.pipelines for f in p.filters if f.op == "="}
        for name in names - {"", "event"}:
            wrong = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", f"{name}x", expr)
            assert wrong != expr
            assert check_query(wrong, emitted, legend) != [], (expr, name)
            mutated += 1
        for name in re.findall(r"\{\{(\w+)\}\}", legend):
            assert check_query(expr, emitted, legend.replace(name, f"{name}x")) != []
    assert mutated >= 30


# -- the reader itself, on hand-made logs ----------------------------------------------------------

SAMPLE: Emitted = {
    "rotation.succeeded": {"duration_ms": [12.5], "outcome": ["succeeded"], "error_slug": [None]},
    "rotation.failed": {
        "error_slug": ["HTTP_BadRequest"],
        "http_status": [400],
        "outcome": ["failed"],
        "error": ["Composio answered 400"],
    },
    "sweep.completed": {"quarantined": [0, 2]},
}
S = '{app="$app"} | json'
OK, FAILED, SWEEP = (
    'event="rotation.succeeded"',
    'event="rotation.failed"',
    'event="sweep.completed"',
)
BOTH = "event=~`rotation\\.(succeeded|failed)`"
WITH_OUTCOME = f'{BOTH} | outcome!=""'


def count(stages: str, window: str = "5m", selector: str = S) -> str:
    """``count_over_time`` of a pipeline: ``{app="$app"} | json | STAGES [WINDOW]``."""
    return f"count_over_time({selector} | {stages} [{window}])"


ACCEPTED = [
    (f"sum by (error_slug, http_status) ({count(FAILED)})", "{{error_slug}} {{http_status}}"),
    (f"sum by (outcome) ({count(WITH_OUTCOME, '1m')})", "{{outcome}}"),
    (f"quantile_over_time(0.95, {S} | {OK} | unwrap duration_ms [5m]) by (event)", "p95"),
    (f"max(max_over_time({S} | {SWEEP} | quarantined > 0 | unwrap quarantined [$__interval]))", ""),
    (f'{S} | {FAILED} | outcome="failed" | keep error_slug | line_format "{{{{.error}}}}"', ""),
    (f"absent_over_time({S} | {SWEEP} [3m])", ""),
]

REJECTED = [  # (query, legend, a problem the reader must report)
    (f"sum by (error_slg) ({count(FAILED)})", "", "by/without 'error_slg'"),
    (f"avg_over_time({S} | {OK} | unwrap duraton_ms [5m])", "", "unwrap 'duraton_ms' is not"),
    (count('event="rotation.faild"'), "", "event 'rotation.faild' is never logged"),
    (count("event=~`rotation\\.(succeeded|faild)`"), "", "event 'rotation.faild' is never"),
    (count('event=~"rotation.*"'), "", "select events with = or =~ literals"),
    (count(f'{FAILED} | outcome="faild"'), "", "outcome was never logged as 'faild'"),
    (count(f"{FAILED} | http_sttus>=500"), "", "'http_sttus' is not logged"),
    (count(f'{OK} | error_slug!=""'), "", "'error_slug' is not logged"),  # only ever null
    (count(f"{FAILED} | outcome > 1"), "", "outcome is never a number"),
    (f"sum by (outcome) ({count(BOTH)})", "{{outcom}}", "legend {{outcom}}"),
    (count(f'{BOTH} | http_status="400"'), "", "not logged on ['rotation.succeeded']"),
    (count(f"outcome=`failed` | json | {FAILED}", selector='{app="$app"}'), "", "before | json"),
    (count(f"logfmt | {FAILED}", selector='{app="$app"}'), "", "unsupported pipeline stage"),
    (count("line_format `x`"), "", "selects no event"),
    (count(SWEEP, window="5x"), "", "range [5x] is not a duration"),
    (count(SWEEP, selector='{job="x"} | json'), "", "stream selector"),
    (count(SWEEP, window="$__rate"), "", "unknown variable $__rate"),
    (f'{S} | {FAILED} | line_format "{{{{.eror}}}}"', "", "line_format 'eror'"),
    ("sum(rate(nothing[5m]))", "", "no log pipeline"),
]


@pytest.mark.parametrize(("expr", "legend"), ACCEPTED)
def test_the_reader_accepts_sound_queries(expr: str, legend: str) -> None:
    assert check_query(expr, SAMPLE, legend) == []


@pytest.mark.parametrize(("expr", "legend", "problem"), REJECTED)
def test_the_reader_rejects_what_was_never_logged(expr: str, legend: str, problem: str) -> None:
    problems = check_query(expr, SAMPLE, legend)
    assert any(problem in p for p in problems), problems
