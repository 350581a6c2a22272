"""The Celery app: Redis broker, JSON only, reliability settings, beat schedule, log hookup.

``celery -A rotator.worker.app worker`` and ``rotator worker`` both work. Settings and the
bindings file are read (and validated) when Celery first needs its configuration; a broken
configuration stops the process with exit code 2 and one message listing every problem. It
fails closed: until the settings are applied the broker and backend are an unknown transport, so
nothing can reach Celery's default ``amqp://guest@localhost`` even if configuration went wrong
in a way nobody foresaw.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

import structlog
from celery import Celery, signals

from rotator.core.batching import Entry, chunks
from rotator.core.errors import ConfigError
from rotator.observability.logs import configure_logging
from rotator.rotation.bindings_file import BindingsFile
from rotator.settings.load import Settings, load_settings
from rotator.state.connection import SOCKETS, celery_redis_config, verify_master
from rotator.worker import broker  # noqa: F401  (registers the Sentinel transport for kombu)
from rotator.worker.liveness import liveness_step

__all__ = [
    "ROTATE_BATCH_TASK",
    "ROTATE_TASK",
    "SWEEP_TASK",
    "app",
    "bindings_file",
    "celery_config",
    "send_batches",
    "settings",
]

ROTATE_TASK = "rotator.rotate"
ROTATE_BATCH_TASK = "rotator.rotate_batch"
SWEEP_TASK = "rotator.sweep"
QUEUE = "rotator"

# Placeholders no transport answers to: replaced by the settings in ``_configure``, never used.
_UNCONFIGURED = "rotator-unconfigured://"
app = Celery(
    "rotator", include=["rotator.worker.tasks"], broker=_UNCONFIGURED, backend=_UNCONFIGURED
)
_settings: Settings | None = None
_bindings: BindingsFile | None = None


def settings() -> Settings:
    """The process's settings and bindings file, read once; exit 2 with every problem listed
    if invalid (a worker or beat never starts on what it could not serve)."""
    global _settings, _bindings  # one per process, read once
    if _settings is None:
        try:
            loaded = load_settings()
            _check_numbers(loaded)
            path = loaded.bindings_file
            bindings = BindingsFile(path, mount=loaded.vault_mount) if path else None
        except ConfigError as exc:
            _exit_config(exc)
        _settings, _bindings = loaded, bindings
    return _settings


def bindings_file() -> BindingsFile | None:
    """The bindings file as read at start-up (then again when it changes), None without one."""
    settings()
    return _bindings


def _exit_config(exc: ConfigError) -> NoReturn:
    """One line on stderr naming every problem, then exit 2 (Celery lets ``SystemExit`` by)."""
    sys.stderr.write(f"rotator: invalid configuration: {'; '.join(exc.problems)}\n")
    sys.stderr.flush()
    raise SystemExit(2) from None


# The numbers Celery's own settings are computed from: finite, and below about 115 days.
_CELERY_NUMBERS = {
    "ROTATOR_VISIBILITY_TIMEOUT": "visibility_timeout",
    "ROTATOR_SWEEP_INTERVAL": "sweep_interval",
}


def _check_numbers(s: Settings) -> None:
    problems = [
        f"{name}={getattr(s, attr)!r} must be a finite number of seconds below 10000000"
        for name, attr in _CELERY_NUMBERS.items()
        if not (math.isfinite(getattr(s, attr)) and getattr(s, attr) < 1e7)
    ]
    if problems:
        raise ConfigError(problems)


def celery_config(s: Settings) -> dict[str, Any]:
    """Every Celery setting rotator relies on (the README's reliability settings say why)."""
    redis_opts = {
        "visibility_timeout": int(s.visibility_timeout),
        **SOCKETS,
        # Live workers renew what they hold (worker.liveness), so a SIGKILLed worker's unacked
        # messages come back one visibility timeout after its last renewal, at the next scan:
        # every interval * throttle seconds (kombu: 10 * 10 = 100; here 7 s by default).
        "unacked_restore_interval": max(1, min(10, int(s.visibility_timeout / 4))),
        "unacked_restore_throttle": 1,
        # A worker killed inside the restore scan holds kombu's mutex: 300 s by default.
        "unacked_mutex_expire": max(5, int(s.visibility_timeout / 2)),
    }
    return {
        **celery_redis_config(s, redis_opts),
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # Storing a result while Redis restarts: wait for it (10 ms doubling to 10 s, 10 times)
        # instead of failing a task whose rotation is done ("Exception raised outside body").
        "result_backend_always_retry": True,
        "result_backend_max_retries": 10,
        "visibility_timeout": int(s.visibility_timeout),
        "redis_socket_timeout": 10,
        "redis_socket_connect_timeout": 5,
        "redis_retry_on_timeout": True,
        "redis_socket_keepalive": True,
        "redis_backend_health_check_interval": 30,
        "broker_connection_retry_on_startup": True,
        # A failover or a dead socket is survived, never a reason to exit: reconnect for ever
        # (Celery backs off to 30 s between attempts), also on channel errors such as READONLY.
        "broker_connection_retry": True,
        "broker_connection_max_retries": None,
        "broker_channel_error_retry": True,
        # A publish during a failover (a task's retry, the sweep's rotations) waits for the new
        # primary, about 60 s (0, 1, then 2 s apart), instead of failing after Celery's 0.6 s: a
        # failed retry publish lost the rotation until the visibility timeout (an hour).
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 30,
            "interval_start": 0,
            "interval_step": 1,
            "interval_max": 2,
        },
        "result_expires": 24 * 3600,
        "task_default_queue": QUEUE,
        "worker_pool": "threads",
        "worker_concurrency": s.worker_concurrency,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "beat_scheduler": "rotator.worker.beat:Scheduler",
        "redbeat_key_prefix": "rotator:redbeat",
        "redbeat_lock_timeout": max(10, int(s.sweep_interval * 3)),
        "beat_max_loop_interval": max(1, min(5, int(s.sweep_interval))),
        "beat_schedule": {
            "rotator-sweep": {"task": SWEEP_TASK, "schedule": s.sweep_interval},
        },
    }


@app.on_configure.connect
def _configure(sender: Celery, **_: Any) -> None:
    """Apply the settings, or stop with exit 2: Celery logs and ignores a receiver's exception
    (it would then run on its defaults), so every error becomes ``SystemExit``, which it lets by."""
    try:
        config = celery_config(settings())
        verify_master(settings())
    except ConfigError as exc:
        _exit_config(exc)
    except Exception as exc:  # fail closed on anything unforeseen
        _exit_config(ConfigError(f"cannot configure Celery ({type(exc).__name__})"))
    sender.conf.update(config)


app.steps["consumer"].add(liveness_step(settings))


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    s = settings()
    configure_logging(s.log_level, s.log_format, metrics=s.metrics_port is not None)


@signals.worker_init.connect
@signals.beat_init.connect
def _serve_metrics(**_: Any) -> None:
    """``ROTATOR_METRICS_PORT``: serve /metrics from this worker or beat (``worker.exporter``)."""
    from rotator.worker.exporter import serve

    try:
        serve(settings())
    except ConfigError as exc:
        _exit_config(exc)


@signals.task_prerun.connect
def _bind(task_id: str, task: Any, args: Any = (), kwargs: Any = None, **_: Any) -> None:
    structlog.contextvars.clear_contextvars()
    fields: dict[str, object] = {
        "task_id": task_id,
        "task_name": task.name,
        "retries": task.request.retries,
    }
    nanoid = (kwargs or {}).get("auth_config_id") or (args[0] if args else None)
    if isinstance(nanoid, str):
        fields["auth_config_id"] = nanoid
    structlog.contextvars.bind_contextvars(**fields)


@signals.task_postrun.connect
def _unbind(**_: Any) -> None:
    structlog.contextvars.clear_contextvars()


@dataclass(frozen=True)
class Message:
    """One task message that queues rotations: the task, its arguments, the configs it carries."""

    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    nanoids: list[str]


def batch_messages(entries: list[Entry], *, most: int, version: int | None = None) -> list[Message]:
    """The messages that queue ``entries``: one ``rotator.rotate`` each when few, else
    ``rotator.rotate_batch`` messages of up to ``most`` (``rotator.core.batching``). ``version`` (a
    rollback) goes with a lone rotation only."""
    out = []
    for batch in chunks(entries, most=most):
        ids = [str(e.auth_config_id) for e in batch]
        if len(batch) == 1:
            kwargs = {**batch[0].wire(), "version": version}
            del kwargs["auth_config_id"]
            out.append(Message(ROTATE_TASK, ids, kwargs, ids))
        else:
            out.append(Message(ROTATE_BATCH_TASK, [[e.wire() for e in batch]], {}, ids))
    return out


def send_batches(
    entries: list[Entry], *, most: int, keep: bool, version: int | None = None
) -> list[tuple[list[str], str]]:
    """Queue ``entries`` (``batch_messages``); ``keep``: store their results (``--wait``).
    Returns (nanoids, task id) per task sent."""
    sent: list[tuple[list[str], str]] = []
    for m in batch_messages(entries, most=most, version=version):
        res = app.send_task(m.task, args=m.args, kwargs=m.kwargs, ignore_result=not keep)
        sent.append((m.nanoids, str(res.id)))
    return sent
