"""Log lines are bounded whatever untrusted text they carry (observability.bounds): strings cut
to 1,000 characters, tracebacks to 16,000, names to 100, lists and mappings to 50 items, each
cut marked, after the secrets are masked."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from structlog.typing import EventDict

from rotator.observability.bounds import FIELD_LIMIT, ITEMS_LIMIT, TRACE_LIMIT, cut
from rotator.observability.logs import SECRETS, redact
from tests.faults_support import events
from tests.helpers import Stack

SECRET = "S3CR3T-straddles-the-cut-0042"


@pytest.fixture
def registered() -> Iterator[None]:
    SECRETS.register(SECRET)
    yield
    SECRETS.clear()


def _redacted(**fields: object) -> EventDict:
    return redact(None, "info", {"event": "rotation.succeeded", **fields})


def test_cut_marks_how_much_was_left_out() -> None:
    """Short text is kept; long text keeps its head and says how many characters went."""
    assert cut("abc", 5) == "abc"
    assert cut("abcdefgh", 5) == "abcde...[3 chars cut]"


def test_every_string_field_is_cut_to_the_field_limit_after_scrubbing(registered: None) -> None:
    """A 1 MB error message is 1,000 characters and a marker; a secret straddling the cut is
    masked whole first, so no part of it is left at the edge."""
    text = "x" * (FIELD_LIMIT - 10) + SECRET + "y" * 1_000_000
    error = _redacted(error=text)["error"]
    masked = "x" * (FIELD_LIMIT - 10) + "***" + "y" * 1_000_000
    assert error == masked[:FIELD_LIMIT] + f"...[{len(masked) - FIELD_LIMIT} chars cut]"
    assert SECRET[:6] not in error


def test_lists_mappings_names_depth_and_tracebacks_are_bounded() -> None:
    """10,000 field names keep 50 and a count; a mapping likewise; a 1 MB field name is 100
    characters; nesting stops at 4 levels; a traceback keeps 16,000 characters."""
    names = [f"credentials.k{i}" for i in range(10_000)]
    out = _redacted(
        fields=names,
        extra={f"k{i}": i for i in range(200)},
        deep=[[[[["bottom"]]]]],
        exception="T" * 100_000,
        **{"n" * 1_000_000: "v"},
    )
    assert out["fields"] == [*names[:ITEMS_LIMIT], f"...[{10_000 - ITEMS_LIMIT} items cut]"]
    assert len(out["extra"]) == ITEMS_LIMIT + 1 and out["extra"]["..."] == "[150 items cut]"
    assert out["deep"] == [[[["...[nested too deep]"]]]]
    assert out["exception"] == "T" * TRACE_LIMIT + f"...[{100_000 - TRACE_LIMIT} chars cut]"
    [name] = [k for k in out if k.startswith("n")]
    assert name == "n" * 100 + "...[999900 chars cut]"


def test_a_1_mb_vault_key_name_is_cut_on_the_rotation_line(
    stack: Stack, log_stream: io.StringIO
) -> None:
    """A secret whose credentials hold a 1 MB key name rotates, and no log line of it is longer
    than 10 KB: the name is cut, marked, in the canonical rotation line."""
    big = "k" * 1_000_000
    stack.put("ac_bigkey", {"credentials": {big: "v-bigkey-0042", "client_secret": "sec-big"}})
    stack.rt.service.rotate("ac_bigkey")
    lines = log_stream.getvalue().splitlines()
    assert lines and max(len(line) for line in lines) < 10_000, max(map(len, lines))
    [line] = [e for e in events(log_stream.getvalue(), "rotation.succeeded")]
    [cut_name] = [f for f in line["fields"] if f.startswith("credentials.kkk")]
    whole = f"credentials.{big}"
    assert cut_name == whole[:FIELD_LIMIT] + f"...[{len(whole) - FIELD_LIMIT} chars cut]"
    assert json.dumps(line).count("k" * (FIELD_LIMIT + 1)) == 0
