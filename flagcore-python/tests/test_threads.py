"""Eight threads evaluate while another reloads payloads.

Design: the store is lock-free (an atomic pointer to an immutable ruleset), and
``load_json`` parses without holding the GIL, so evaluations go on, on the previous
ruleset, while a payload is being parsed. An evaluation itself holds the GIL for its
fraction of a microsecond (like any builtin call: releasing and re-taking the GIL would cost
more than the evaluation) and never waits on a lock. The test shows both: evaluations
complete while a load is in progress (they would be impossible if loading held the GIL or a
lock shared with readers), and every result is whole (the value and rule id of one
ruleset, never a mix).
"""

from __future__ import annotations

import threading
import time
from typing import List, Set, Tuple

import flagcore
from support import gate, payload

# Enough gates that a load takes milliseconds.
FILLER = [gate(f"filler_{i}") for i in range(3000)]
ON = payload([gate("flip", rule_id="everyone")] + FILLER, time=1)
OFF = payload([gate("flip", enabled=False)] + FILLER, time=2)
VALID = {(True, "everyone", 1), (False, "disabled", 2)}


def test_eight_threads_check_while_payloads_reload() -> None:
    store = flagcore.Store()
    store.load_json(ON)
    loading = threading.Event()
    stop = threading.Event()
    during_load = [0] * 8
    checks = [0] * 8
    seen: List[Set[Tuple[bool, str, int]]] = [set() for _ in range(8)]
    errors: List[str] = []

    def checker(i: int) -> None:
        user = flagcore.User(f"user-{i}")
        try:
            while not stop.is_set():
                before = loading.is_set()
                g = store.get_feature_gate(user, "flip")
                fast = store.check_gate(user, "flip")
                after = loading.is_set()
                lcut = g.details.lcut or 0
                if (g.value, g.rule_id, lcut) not in VALID:
                    errors.append(f"torn result: {(g.value, g.rule_id, lcut)}")
                    return
                seen[i].add((g.value, g.rule_id, lcut))
                checks[i] += 1
                if before and after:
                    during_load[i] += 1
                _ = fast
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=checker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    loads = 0
    deadline = time.monotonic() + 120
    try:
        # Reload until every thread has evaluated during loads many times (bounded by a
        # deadline, which only a broken build reaches).
        while time.monotonic() < deadline and (loads < 20 or min(during_load) < 50):
            loading.set()
            store.load_json(OFF if loads % 2 == 0 else ON)
            loading.clear()
            loads += 1
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    print(f"{loads} loads; checks per thread {checks}; during loads {during_load}")
    assert min(during_load) >= 50, (
        f"evaluations did not proceed while loading: {during_load} in {loads} loads")
    assert all(s == VALID for s in seen), f"each thread saw both rulesets: {seen}"
