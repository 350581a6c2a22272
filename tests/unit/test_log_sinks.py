"""rotator's own log lines go straight to the handler's stream (no stdlib LogRecord), in order
with libraries' lines, filtered by level; the redaction memo stays bounded; a secret's encoded
forms are computed once per value."""

from __future__ import annotations

import io
import json
import logging

import structlog

from rotator.observability import logs
from rotator.observability.logs import MASK, configure_logging, redact
from rotator.observability.redaction import Echoes, forms


class _Count(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.records = 0

    def filter(self, record: logging.LogRecord) -> bool:
        self.records += 1
        return True


def test_own_and_library_lines_share_one_stream_in_order_and_debug_is_dropped_at_info() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    log = structlog.get_logger("rotator.rotation")
    log.info("rotation.succeeded", outcome="succeeded", vault_version=3)
    log.debug("sweep.queued", auth_config_id="ac_x")
    logging.getLogger("celery.worker").warning("lib line %s", "one")
    log.warning("rotation.retrying", reason="Composio answered 503")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(x["event"], x["level"], x["logger"]) for x in lines] == [
        ("rotation.succeeded", "info", "rotator.rotation"),
        ("lib line one", "warning", "celery.worker"),
        ("rotation.retrying", "warning", "rotator.rotation"),
    ]
    assert lines[0]["vault_version"] == 3 and "timestamp" in lines[0]


def test_own_lines_make_no_log_record_and_library_lines_still_do() -> None:
    """The cost saved: rotator's line is rendered once and written, with no LogRecord and no
    second formatting pass; a library's line still goes through the handler."""
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    counter = _Count()
    logging.getLogger().handlers[0].addFilter(counter)
    structlog.get_logger("rotator.sweep").debug("sweep.queued", auth_config_id="ac_y")
    assert counter.records == 0 and "sweep.queued" in stream.getvalue()
    logging.getLogger("hvac.adapters").warning("from a library")
    assert counter.records == 1 and "from a library" in stream.getvalue()


def test_the_field_name_memo_is_bounded_and_masking_holds_past_it() -> None:
    """Thousands of distinct field names (say, a hostile payload's) memoise at most _MEMO of
    them; a secret-sounding name past the bound is still masked."""
    for i in range(2000):
        out = redact(None, "info", {"event": "probe.line", f"field_{i}": "plain"})
        assert out[f"field_{i}"] == "plain"
    assert len(logs._MASKED) <= logs._MEMO and len(logs._NAMES) <= logs._MEMO
    out = redact(None, "info", {"event": "probe.line", "late_api_key_2001": "abc"})
    assert out["late_api_key_2001"] == MASK


def test_a_values_forms_are_computed_once_for_the_log_registry_and_the_echo_mask() -> None:
    """A rotation registers its values for the logs and then masks their echoes in
    Composio's answer: the second asks the cache, not the encoders."""
    value = "sk_live_forms_once_0123456789"
    before = forms.cache_info()
    logs.SECRETS.register(value)
    echoes = Echoes.of([value])
    after = forms.cache_info()
    assert after.misses - before.misses == 1 and after.hits - before.hits >= 1
    assert value in echoes.anywhere and MASK not in echoes.anywhere
