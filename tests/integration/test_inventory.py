"""``rotator inventory``: Composio's list (every page) against rotator's bindings, read-only."""

from __future__ import annotations

import json

import pytest

from rotator.composio.client import ComposioClient
from rotator.core.models import ResponseInfo, Secret
from rotator.devkit.emulator import Fault
from rotator.reports.inventory import InventoryError, list_all, parse_page
from rotator.settings.load import load_settings, retry_budget
from tests.helpers import COMPOSIO_KEY, Stack
from tests.procs import assert_cli_ok, run_cli


def _seed(stack: Stack, managed: int, missing: int, unmanaged: int) -> None:
    for i in range(managed):
        stack.put(f"ac_inv_m{i:02d}", {"credentials": {"client_secret": f"inv-sec-{i}"}})
    if managed:
        stack.emu.add_auth_config("ac_inv_m00", enabled=False)  # managed, disabled on Composio
    for i in range(missing):
        stack.put(f"ac_inv_x{i}", {"credentials": {"client_secret": "inv-x"}}, in_composio=False)
    for i in range(unmanaged):
        stack.emu.add_auth_config(f"ac_inv_u{i:02d}", enabled=i != 0)


def _list_gets(stack: Stack) -> int:
    return sum(1 for e in stack.emu.journal if e.method == "GET" and e.nanoid is None)


def test_inventory_reads_every_page_and_sorts_each_category(stack: Stack) -> None:
    """25 bound + 20 unbound configs on Composio (3 pages of 20), 2 bindings Composio lacks:
    each lands in its category with its status (disabled ones too), exit 1 for the missing."""
    _seed(stack, managed=25, missing=2, unmanaged=20)
    res = run_cli(stack.env, "inventory", "--json")
    assert_cli_ok(res, 1)
    inv = json.loads(res.stdout)
    assert inv["pages"] == 3 and _list_gets(stack) == 3
    managed = {r["auth_config_id"]: r for r in inv["managed"]}
    assert len(managed) == 25 and managed["ac_inv_m00"]["status"] == "DISABLED"
    assert managed["ac_inv_m01"]["status"] == "ENABLED"
    assert managed["ac_inv_m01"]["last_updated_at"].endswith("Z")
    assert managed["ac_inv_m01"]["vault_path"].endswith("/ac_inv_m01")
    assert [r["auth_config_id"] for r in inv["missing"]] == ["ac_inv_x0", "ac_inv_x1"]
    unmanaged = {r["auth_config_id"]: r["status"] for r in inv["unmanaged"]}
    assert len(unmanaged) == 20 and unmanaged["ac_inv_u00"] == "DISABLED"
    assert not any(e.method == "PATCH" for e in stack.emu.journal)  # read-only


def test_inventory_text_output_and_exit_0_when_nothing_is_missing(stack: Stack) -> None:
    """No binding points at a missing config: exit 0, a summary line, one row per config."""
    _seed(stack, managed=2, missing=0, unmanaged=1)
    res = run_cli(stack.env, "inventory")
    assert_cli_ok(res, 0)
    lines = res.stdout.splitlines()
    assert lines[0] == "2 managed, 0 missing on Composio, 1 unmanaged (1 pages read)"
    assert any(line.startswith("managed    ac_inv_m01") and "ENABLED" in line for line in lines)
    assert any(line.startswith("unmanaged  ac_inv_u00") for line in lines)
    assert "inv-sec" not in res.stdout + res.stderr


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"<html>proxy</html>", "a body that is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
        (b'{"items": ' * 100_000 + b"[]" + b"}" * 100_000, "JSON nested too deeply"),
    ],
    ids=["html", "array-100k-deep", "object-100k-deep"],
)
def test_a_garbled_list_is_one_named_line_and_exit_2(stack: Stack, body: bytes, what: str) -> None:
    """A 200 whose body is a proxy's HTML, or JSON nested 100,000 deep: one line naming the list
    and the problem, no traceback, exit 2 (a permanent problem), not "unexpected
    RecursionError" with exit 1."""
    _seed(stack, managed=1, missing=0, unmanaged=0)
    stack.emu.inject(Fault(status=200, body=body, content_type="text/html"))
    res = run_cli(stack.env, "inventory")
    assert_cli_ok(res, 2)
    said = [line for line in res.stderr.splitlines() if line.startswith("rotator:")]
    assert said == [
        f"rotator: inventory: Composio answered 200 to the auth config list with {what}"
    ]


class _Counting:
    def __init__(self) -> None:
        self.acquired = 0

    def acquire(self) -> float:
        self.acquired += 1
        return 0.0

    def observe(self, info: ResponseInfo) -> None:
        pass


def test_list_requests_go_through_the_shared_limiter(stack: Stack) -> None:
    """Each page asks the rate limiter for a slot, as a PATCH does."""
    _seed(stack, managed=0, missing=0, unmanaged=41)
    limiter = _Counting()
    client = ComposioClient(
        base_url=stack.emu.url,
        key_provider=lambda refresh: Secret(COMPOSIO_KEY),
        key_refreshable=False,
        budget=retry_budget(load_settings(stack.env)),
        limiter=limiter,
    )
    with client:
        items, pages, problems = list_all(client)
    assert (len(items), pages, problems, limiter.acquired) == (41, 3, [], 3)


class _Pages:
    """A fake list endpoint (the edge of a pure unit): answers in order, forever the last."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls = 0

    def list_auth_configs(self, cursor: str | None = None) -> object:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def _page(ids: list[object], cursor: object = None) -> dict[str, object]:
    return {"items": [{"id": i, "status": "ENABLED"} for i in ids], "next_cursor": cursor}


def test_a_looping_cursor_is_detected() -> None:
    """A next_cursor seen before stops the listing instead of looping forever."""
    lister = _Pages(_page(["ac_1"], "c1"), _page(["ac_2"], "c2"), _page(["ac_3"], "c1"))
    with pytest.raises(InventoryError, match="repeats an earlier one"):
        list_all(lister)
    assert lister.calls == 3


def test_the_page_count_is_bounded() -> None:
    """Ever-new cursors stop at max_pages."""
    counter = iter(range(10**6))

    class Endless:
        def list_auth_configs(self, cursor: str | None = None) -> object:
            return _page([f"ac_{next(counter)}"], f"c{next(counter)}")

    with pytest.raises(InventoryError, match="more than 5 pages"):
        list_all(Endless(), max_pages=5)


@pytest.mark.parametrize(
    "data",
    [None, [], "x", {"items": None}, {"items": {}}, {"items": [], "next_cursor": 5}],
)
def test_a_malformed_page_stops_the_listing(data: object) -> None:
    """A page that is not an object with an items list (or a bad cursor) is not guessed at."""
    with pytest.raises(InventoryError, match="page 1"):
        parse_page(data, 1)


def test_bad_items_are_skipped_and_named_with_unknown_fields_not_trusted() -> None:
    """Items without a usable id are problems; odd status/time/toolkit become None."""
    page = parse_page(
        {
            "items": [
                5,
                {"id": "../etc"},
                {"name": "no id"},
                {"id": "ac_ok", "status": "WEIRD", "last_updated_at": "\x1b[31m", "toolkit": 3},
            ],
            "next_cursor": None,
        },
        2,
    )
    assert [i.id for i in page.items] == ["ac_ok"]
    assert (page.items[0].status, page.items[0].last_updated_at, page.items[0].toolkit) == (
        None,
        None,
        None,
    )
    assert page.problems == [
        "page 2: an item that is not an object",
        "page 2: an item without a usable id",
        "page 2: an item without a usable id",
    ]
