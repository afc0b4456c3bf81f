"""Client initialize responses through Python agree fully with the official core's (the
corpus's ``client_init*.jsonl.xz``: djb2, sha256, none, and filtered by a client key)."""

from __future__ import annotations

import json
import lzma
from typing import Any, Dict, List, Optional

import pytest

import flagcore
from support import conformance_dir, norm

CASES = [
    ("eval_proj", "client_init.jsonl.xz", None, False),
    ("eval_proj", "client_init_sha256.jsonl.xz", "sha256", False),
    ("eval_proj", "client_init_none.jsonl.xz", "none", False),
    ("demo_proj", "client_init.jsonl.xz", "djb2", False),
    ("demo_proj", "client_init_clientkey.jsonl.xz", None, True),
]


def fractional(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1


def null_random_draws(dcs: Dict[str, Any], r: Dict[str, Any]) -> None:
    """Where Statsig draws at random (session replay sampling rates strictly between 0 and
    1), the corpus holds null (see conformance/README.md); so does the compared response."""
    sr = dcs.get("session_replay_info") or {}
    forced_off = r.get("recording_blocked") is True or r.get("passes_session_recording_targeting") is False
    if fractional(sr.get("sampling_rate")) and not forced_off and "can_record_session" in r:
        r["can_record_session"] = None
    for key in ("session_recording_event_triggers", "session_recording_exposure_triggers"):
        triggers = sr.get(key) or {}
        if any(fractional(t.get("sampling_rate")) for t in triggers.values()) and isinstance(r.get(key), dict):
            for t in r[key].values():
                if "passes_sampling" in t:
                    t["passes_sampling"] = None


@pytest.mark.parametrize("fixture,answers,hash,with_key", CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_responses_agree_with_the_official_core(fixture: str, answers: str, hash: Optional[str],
                                                with_key: bool) -> None:
    folder = conformance_dir() / "fixtures" / fixture
    raw = (folder / "dcs.json").read_bytes()
    dcs = json.loads(raw)
    store = flagcore.Store()
    store.load_json(raw)
    key = (folder / "client_key").read_text().strip() if with_key else None
    users = [json.loads(line) for line in (folder / "users.jsonl").read_text().splitlines() if line.strip()]
    compared = 0
    mismatched: List[int] = []
    with lzma.open(folder / answers, "rt") as f:
        for line in f:
            if not line.strip():
                continue
            want = json.loads(line)
            user = flagcore.User.from_dict(users[want["u"]])
            got = json.loads(store.get_client_initialize_response(user, hash=hash, client_sdk_key=key))
            null_random_draws(dcs, got)
            # sdkInfo names the SDK that wrote the response: the one field that differs.
            want["response"].pop("sdkInfo")
            assert got.pop("sdkInfo")["sdkType"]
            compared += 1
            if norm(got) != norm(want["response"]):
                mismatched.append(want["u"])
    assert compared >= 100, f"{answers}: only {compared} answers"
    assert mismatched == [], f"{fixture}/{answers}: users {mismatched[:10]} disagree"


def test_unknown_hash_is_a_value_error() -> None:
    store = flagcore.Store()
    with pytest.raises(ValueError, match="unknown hash"):
        store.get_client_initialize_response(flagcore.User("u"), hash="md5")


def test_an_empty_store_answers_the_blank_response() -> None:
    r = json.loads(flagcore.Store().get_client_initialize_response(flagcore.User("u")))
    assert r["has_updates"] is False and r["feature_gates"] == {}
