"""The log-event table, found by reading the code (there is no single registry of events).

Every ``*.py`` under ``rotator/`` is parsed with ``ast``. An event is a dotted lower-case string
(``rotation.succeeded``) that is
1. the first argument of a logger call (``log.info("sweep.completed", checked=...)``): its level
   is the method's name, its fields the call's keywords; ``**log_fields(o)`` is expanded from the
   dict that function returns, ``**x.__dict__`` from the dataclass ``x`` was built from;
2. or passed to a function of the same module that logs its own parameter
   (``self._login("vault.login")``): level and fields come from that call;
3. or assigned to a name, in a namespace that 1. found (``OPENED = "composio.circuit_open"``,
   handed to the logger later): level and fields shown as ``-``.

``WHEN`` adds one sentence per event. The test fails when the code logs an event that ``WHEN``
does not describe, or ``WHEN`` describes one the code no longer logs.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["WHEN", "Event", "render_events", "scan"]

PACKAGE = Path(__file__).resolve().parents[1] / "rotator"
LEVELS = {"debug", "info", "warning", "error", "exception", "critical"}
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_EVENT = re.compile(r"^[a-z]+\.[a-z_]+$")

WHEN = {
    "rotation.succeeded": "a PATCH was accepted and recorded (the rotation's one canonical line)",
    "rotation.skipped": "Vault and Composio already in step, or paused (`reason`)",
    "rotation.retrying": "an in-call retry, or the rotation goes back to the queue",
    "rotation.failed": "a permanent failure (a refuted push too) or retries exhausted",
    "rotation.unverified": "a 2xx that cannot be shown either way: not recorded as applied, exit 1",
    "rotation.verified": "verification on: the read-back showed the push",
    "rotation.waiting": "the open circuit breaker held a rotation back",
    "rotation.requeue_failed": "a batch entry's requeue could not be published",
    "sweep.completed": "every sweep, with its counts",
    "sweep.bindings_invalid": "the bindings file changed and broke: the last good one stays",
    "state.unreadable": "a Redis record rotator cannot parse: read as absent for that config",
    "credential.overdue": "a live credential older than its maximum age (at most once a day)",
    "webhook.not_started": "the worker could not build its runtime: no webhook deliveries",
    "webhook.queued": "a webhook delivery queued in Redis (DEBUG)",
    "webhook.delivered": "the webhook receiver answered 2xx to a delivery",
    "webhook.retrying": "a delivery failed (no answer or not 2xx): retried with backoff",
    "webhook.expired": "a delivery still failing after three days: dropped",
    "webhook.outbox_unavailable": "the webhook loop found Redis down; it tries again",
    "sweep.queued": "a rotation queued by the sweep (DEBUG: counted in `sweep.completed`)",
    "sweep.ambiguous_source": "a nanoid found at several Vault paths: pushed from none",
    "sweep.vault_error": "the sweep could not list or read Vault",
    "sweep.redis_unavailable": "the sweep found Redis down and ended",
    "composio.circuit_open": "the fleet breaker opened (`cause`: `key_rejected` or `outage`)",
    "composio.circuit_closed": "a success closed the fleet breaker",
    "composio.circuit_probe": "this process sends the half-open probe",
    "composio.unusable_body": "a Composio answer whose body could not be used",
    "vault.login": "the first login to Vault (never the token)",
    "vault.relogin": "a new login: TTL ran low, or the token was refused",
    "vault.token_renewed": "the token was renewed",
    "ratelimit.learned": "a process saw a new announced limit (logged once, not per answer)",
    "ratelimit.adapted": "an answer slowed rotator down (low remaining budget, or a 429)",
    "ratelimit.unavailable": "Redis unreachable: the limiter fails open",
    "circuit.state_unavailable": "Redis unreachable: the breaker reads as closed",
    "state.write_failed": "a lock's state write failed",
    "liveness.renew_failed": "a worker could not renew what it holds",
    "beat.redis_unavailable": "beat cannot reach Redis; it tries again",
    "beat.lock_lost": "beat lost the RedBeat lock and takes it again",
    "catalog.skipped": "a binding or secret that cannot be used was skipped",
    "config.fingerprint_key_readable": "the fingerprint key file is readable by others",
    "emulator.handler_failed": "the dev kit's emulator hit a defect (never in production)",
}


@dataclass
class Event:
    """What the code says about one event: levels, fields and the modules that log it."""

    name: str
    levels: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def _event_arg(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant):
        value = call.args[0].value
        if isinstance(value, str) and _EVENT.match(value):
            return value
    return None


def _dict_keys(func: ast.FunctionDef) -> set[str]:
    keys: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            keys |= {
                k.value
                for k in node.value.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            }
    return keys


def _dataclass_fields(cls: ast.ClassDef) -> set[str]:
    return {
        n.target.id
        for n in cls.body
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }


class _Index:
    """Functions returning dict literals and classes, by name, over the whole package."""

    def __init__(self, trees: dict[str, ast.Module]) -> None:
        self.returns: dict[str, set[str]] = {}
        self.classes: dict[str, set[str]] = {}
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef) and (keys := _dict_keys(node)):
                    self.returns[node.name] = keys
                elif isinstance(node, ast.ClassDef):
                    self.classes[node.name] = _dataclass_fields(node)

    def expand(self, value: ast.expr, scope: ast.AST) -> set[str]:
        """The keys of ``**value``: a call to a dict-returning function, or ``x.__dict__``."""
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            return self.returns.get(value.func.id, {"**"})
        if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name):
            built = _built_from(value.value.id, scope)
            return self.classes.get(built or "", {"**"})
        return {"**"}


def _built_from(name: str, scope: ast.AST) -> str | None:
    for node in ast.walk(scope):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
        ):
            return node.value.func.id
    return None


def _fields(call: ast.Call, index: _Index, scope: ast.AST) -> set[str]:
    found: set[str] = set()
    for kw in call.keywords:
        found |= {kw.arg} if kw.arg else index.expand(kw.value, scope)
    return found


def _log_calls(scope: ast.AST) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(scope)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in LEVELS
    ]


def _forwarders(tree: ast.Module) -> dict[str, ast.Call]:
    """Functions of a module that log their own first parameter: name -> that log call."""
    found: dict[str, ast.Call] = {}
    for func in ast.walk(tree):
        if not isinstance(func, _FUNCS):
            continue
        params = {a.arg for a in func.args.args}
        for call in _log_calls(func):
            if call.args and isinstance(call.args[0], ast.Name) and call.args[0].id in params:
                found[func.name] = call
    return found


def _assigned(tree: ast.Module) -> list[str]:
    """Event-shaped strings assigned to a name (``OPENED, CLOSED = "a.b", "a.c"``)."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            found += [
                v.value
                for v in values
                if isinstance(v, ast.Constant)
                and isinstance(v.value, str)
                and _EVENT.match(v.value)
            ]
    return found


def _called(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return call.func.id if isinstance(call.func, ast.Name) else None


def scan(package: Path = PACKAGE) -> dict[str, Event]:
    """Every event the package logs, by name."""
    trees = {_module(p): ast.parse(p.read_text(encoding="utf-8")) for p in package.rglob("*.py")}
    index = _Index(trees)
    events: dict[str, Event] = {}
    literals: list[tuple[str, str]] = []
    for module, tree in sorted(trees.items()):
        forwarders = _forwarders(tree)
        scopes = [tree, *(n for n in ast.walk(tree) if isinstance(n, _FUNCS))]
        for scope in scopes:
            for call in (n for n in ast.walk(scope) if isinstance(n, ast.Call)):
                name, callee = _event_arg(call), _called(call)
                logger = call if callee in LEVELS else forwarders.get(callee or "")
                if name is None or logger is None or not isinstance(logger.func, ast.Attribute):
                    continue
                event = events.setdefault(name, Event(name))
                event.levels.add(logger.func.attr)
                event.fields |= _fields(logger, index, scope)
                event.modules.add(module)
        literals += [(name, module) for name in _assigned(tree)]
    spaces = {name.split(".")[0] for name in events}
    for name, module in literals:
        if name.split(".")[0] in spaces and name not in events:
            events[name] = Event(name, modules={module})
    return events


def _cell(items: set[str]) -> str:
    return ", ".join(f"`{i}`" for i in sorted(items)) or "-"


def render_events() -> str:
    """The table: event, level, fields, modules, and when (from ``WHEN``)."""
    rows = ["| event | level | fields | logged in | when |", "|---|---|---|---|---|"]
    for name, event in sorted(scan().items()):
        levels = ", ".join(sorted(event.levels)) or "-"
        when = WHEN.get(name, "**not described: add it to docgen.events.WHEN**")
        rows.append(
            f"| `{name}` | {levels} | {_cell(event.fields)} | {_cell(event.modules)} | {when} |"
        )
    return "\n".join(rows)
