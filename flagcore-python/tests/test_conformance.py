"""The conformance corpus, evaluated through Python, agrees 100% with the answers of
Statsig's official core (value, rule id, group name, secondary and undelegated
exposures, allocated experiment)."""

from __future__ import annotations

import json
import lzma
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import flagcore
from support import conformance_dir, norm

FIXTURES = sorted(p for p in (conformance_dir() / "fixtures").iterdir() if (p / "dcs.json").is_file())
FIELDS = ["value", "rule_id", "group_name", "secondary_exposures",
          "undelegated_secondary_exposures", "allocated_experiment"]


def result_line(store: flagcore.Store, user: flagcore.User, kind: str, name: str) -> Dict[str, Any]:
    """One result in the corpus's format, read through the public Python API."""
    if kind == "gate":
        g = store.get_feature_gate(user, name, log_exposure=False)
        assert store.check_gate(user, name, log_exposure=False) == g.value
        return {"value": g.value, "rule_id": g.rule_id, "group_name": g.group_name,
                "secondary_exposures": g.secondary_exposures,
                "undelegated_secondary_exposures": g.undelegated_secondary_exposures,
                "allocated_experiment": None}
    evaluate: Callable[..., Any] = {
        "config": store.get_dynamic_config,
        "experiment": store.get_experiment,
        "layer": store.get_layer,
    }[kind]
    r = evaluate(user, name, log_exposure=False)
    allocated = r.allocated_experiment_name if kind == "layer" else None
    return {"value": r.value, "rule_id": r.rule_id, "group_name": r.group_name,
            "secondary_exposures": r.secondary_exposures,
            "undelegated_secondary_exposures": r.undelegated_secondary_exposures,
            "allocated_experiment": allocated}


def test_corpus_is_there() -> None:
    assert len(FIXTURES) >= 7, f"expected the corpus's fixtures, found {FIXTURES}"


@pytest.mark.parametrize("fixture", FIXTURES, ids=[p.name for p in FIXTURES])
def test_fixture_agrees_fully(fixture: Path) -> None:
    tier_file = fixture / "environment"
    tier = tier_file.read_text().strip() if tier_file.exists() else None
    store = flagcore.Store(environment=tier)
    store.load_json((fixture / "dcs.json").read_bytes())
    users = [flagcore.User.from_dict(json.loads(line))
             for line in (fixture / "users.jsonl").read_text().splitlines() if line.strip()]
    total = 0
    mismatches: List[str] = []
    with lzma.open(fixture / "expected.jsonl.xz", "rt") as f:
        for line in f:
            if not line.strip():
                continue
            exp = json.loads(line)
            total += 1
            act = result_line(store, users[exp["u"]], exp["kind"], exp["name"])
            diff = [k for k in FIELDS if norm(exp.get(k)) != norm(act[k])]
            if diff:
                mismatches.append(f"{(exp['u'], exp['kind'], exp['name'])}: "
                                  + ", ".join(f"{k}: expected {exp.get(k)!r}, got {act[k]!r}" for k in diff))
    print(f"{fixture.name}: agreement {total - len(mismatches)}/{total}")
    assert total > 0, f"{fixture.name}: no expected results"
    assert not mismatches, (f"{fixture.name}: {len(mismatches)}/{total} results differ; first:\n"
                            + "\n".join(mismatches[:5]))
