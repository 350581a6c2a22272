"""The catalogue's cache under many threads: a worker's threads list Vault once per TTL, not
once each; a stale view keeps serving while one thread lists; a fresh view is one listed after
the call. The lister is the Vault edge of this unit, counted and held back on purpose; the
listing against a real OpenBao is covered by test_vault and the service tests."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rotator.core.errors import VaultUnavailable
from rotator.rotation.catalog import STALE_FOR, Catalog
from rotator.settings.load import load_settings
from tests.clock_support import FakeClock

ENV = {
    "VAULT_ADDR": "http://127.0.0.1:8200",
    "VAULT_TOKEN": "root-token-value",
    "COMPOSIO_API_KEY": "ck-value",
}
PREFIX = "composio/auth_configs"


class Lister:
    """Lists ``names`` under the prefix; counts calls; ``gate`` (when set) holds each listing
    until it is opened, and ``entered`` says a listing has begun."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.calls = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Event()
        self.fail = False
        self._count = threading.Lock()

    def list_secrets(self, mount: str, prefix: str) -> list[str]:
        with self._count:
            self.calls += 1
        names = list(self.names)  # what Vault holds when the LIST begins
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(10), "the test never opened the gate"
        if self.fail:
            raise VaultUnavailable("Vault LIST: connection refused")
        return [f"{PREFIX}/{n}" for n in names]


def catalog(lister: Lister, clock: FakeClock) -> Catalog:
    return Catalog(load_settings(ENV), lister, ttl=30.0, clock=clock)


def test_sixteen_threads_with_no_cache_list_vault_once_and_share_the_view() -> None:
    lister, clock = Lister(["ac_one1"]), FakeClock()
    cat = catalog(lister, clock)
    lister.gate = threading.Event()
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(cat.get, "ac_one1") for _ in range(16)]
        assert lister.entered.wait(5)
        lister.gate.set()
        bindings = [f.result(timeout=10) for f in futures]
    assert lister.calls == 1
    assert {b.vault_path if b else None for b in bindings} == {f"secret/{PREFIX}/ac_one1"}


def test_a_stale_view_serves_the_other_threads_while_one_thread_lists() -> None:
    """Past the TTL, one caller lists; a caller meanwhile gets the stale view at once, not a
    listing of its own (the herd that made a 10,000-config first sync twice as slow)."""
    lister, clock = Lister(["ac_one1"]), FakeClock()
    cat = catalog(lister, clock)
    assert cat.get("ac_one1") is not None and lister.calls == 1
    lister.names = ["ac_one1", "ac_two2"]
    clock.now += 31.0
    lister.gate, lister.entered = threading.Event(), threading.Event()
    with ThreadPoolExecutor(1) as pool:
        refreshing = pool.submit(cat.view)
        assert lister.entered.wait(5)
        stale = cat.view()  # returns while the listing is held back
        assert set(stale.bindings) == {"ac_one1"} and lister.calls == 2
        lister.gate.set()
        assert set(refreshing.result(timeout=10).bindings) == {"ac_one1", "ac_two2"}
    assert set(cat.view().bindings) == {"ac_one1", "ac_two2"} and lister.calls == 2


def test_within_the_ttl_nothing_is_listed_again() -> None:
    lister, clock = Lister(["ac_one1"]), FakeClock()
    cat = catalog(lister, clock)
    cat.view()
    clock.now += 29.0
    cat.view()
    assert lister.calls == 1
    clock.now += 2.0
    cat.view()
    assert lister.calls == 2


def test_a_fresh_view_is_one_listed_after_the_call_and_callers_meanwhile_share_it() -> None:
    """A listing already under way when a fresh view is asked for may miss a secret written
    just before; so it lists again, once for all the callers that asked meanwhile."""
    lister, clock = Lister(["ac_one1"]), FakeClock()
    cat = catalog(lister, clock)
    lister.gate = threading.Event()
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(cat.view, fresh=True)
        assert lister.entered.wait(5)
        clock.now += 0.5  # the fresh callers ask after the first listing began
        lister.names = ["ac_one1", "ac_new9"]
        fresh = [pool.submit(cat.view, fresh=True) for _ in range(4)]
        lister.gate.set()
        assert set(first.result(timeout=10).bindings) == {"ac_one1"}  # began before the write
        views = [f.result(timeout=10) for f in fresh]
    assert lister.calls == 2
    assert all(set(v.bindings) == {"ac_one1", "ac_new9"} for v in views)


def test_an_unknown_nanoid_lists_again_and_is_found_when_just_written() -> None:
    lister, clock = Lister(["ac_one1"]), FakeClock()
    cat = catalog(lister, clock)
    cat.view()
    lister.names = ["ac_one1", "ac_new9"]
    binding = cat.get("ac_new9")
    assert binding is not None and binding.auth_config_id == "ac_new9"
    assert lister.calls == 2


def test_a_failed_listing_raises_to_its_caller_and_the_next_call_lists_again() -> None:
    lister, clock = Lister(["ac_one1"]), FakeClock()
    cat = catalog(lister, clock)
    lister.fail = True
    with pytest.raises(VaultUnavailable):
        cat.view()
    lister.fail = False
    clock.now += 0.001  # a later call: the failure answered the calls before it only
    assert set(cat.view().bindings) == {"ac_one1"}
    assert lister.calls == 2


def test_a_failed_listing_raises_to_every_caller_that_waited_for_it_at_once() -> None:
    """Eight callers waiting for one listing that fails all get its error, after one listing,
    not eight listings one after another (each up to Vault's timeout)."""
    lister, clock = Lister(["ac_one1"]), FakeClock()
    cat = catalog(lister, clock)
    lister.gate, lister.fail = threading.Event(), True
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(cat.view, fresh=True)
        assert lister.entered.wait(5)
        waiting = [pool.submit(cat.view) for _ in range(7)]
        lister.gate.set()
        for future in [first, *waiting]:
            with pytest.raises(VaultUnavailable):
                future.result(timeout=10)
    assert lister.calls == 1
    lister.fail = False  # a call after the failure lists again
    clock.now += 0.001
    assert set(cat.view().bindings) == {"ac_one1"} and lister.calls == 2


def test_a_view_too_old_to_serve_waits_for_the_listing_under_way() -> None:
    """Past STALE_FOR TTLs, a caller does not get the old view while another thread lists: it
    waits for that listing (and would get its error), so a Vault that keeps failing is not
    hidden behind an hours-old view."""
    lister, clock = Lister(["ac_one1"]), FakeClock()
    cat = catalog(lister, clock)
    cat.view()
    lister.names = ["ac_one1", "ac_two2"]
    clock.now += 30.0 * STALE_FOR + 1
    lister.gate, lister.entered = threading.Event(), threading.Event()
    with ThreadPoolExecutor(2) as pool:
        refreshing = pool.submit(cat.view)
        assert lister.entered.wait(5)
        waiting = pool.submit(cat.view)
        assert not waiting.done()  # held back, not served the old view
        lister.gate.set()
        assert set(waiting.result(timeout=10).bindings) == {"ac_one1", "ac_two2"}
        assert set(refreshing.result(timeout=10).bindings) == {"ac_one1", "ac_two2"}
    assert lister.calls == 2
