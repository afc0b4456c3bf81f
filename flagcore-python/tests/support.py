"""Shared helpers of the flagcore pytest suite. The suite imports the installed package
(``pip install ./flagcore-python``), never the source tree."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]


# Values compare as the corpus's own compare.py compares them (numbers by value).
sys.path.insert(0, str(REPO / "conformance"))
from compare import norm  # noqa: E402,F401


def conformance_dir() -> Path:
    """The conformance corpus: the repository's own copy (``conformance/``), or the
    folder named by ``FLAGCORE_CONFORMANCE_DIR``."""
    override = os.environ.get("FLAGCORE_CONFORMANCE_DIR")
    path = Path(override) if override else REPO / "conformance"
    if not (path / "fixtures").is_dir():
        raise RuntimeError(
            f"conformance corpus missing: {path / 'fixtures'} does not exist "
            "(set FLAGCORE_CONFORMANCE_DIR to a copy of it)"
        )
    return path


def gate(name: str, enabled: bool = True, rule_id: str = "everyone", pass_percentage: float = 100,
         salt: Optional[str] = None) -> Dict[str, Any]:
    """A feature gate spec: one public rule passing ``pass_percentage`` % of users; a
    disabled gate has no rules (Statsig's server strips them, and the rules of a disabled
    spec would still be evaluated)."""
    rules = [
        {
            "id": rule_id,
            "name": rule_id,
            "passPercentage": pass_percentage,
            "conditions": ["public"],
            "returnValue": True,
            "idType": "userID",
            "salt": rule_id,
        }
    ]
    return {
        "name": name,
        "type": "feature_gate",
        "entity": "feature_gate",
        "salt": salt or name,
        "enabled": enabled,
        "defaultValue": False,
        "idType": "userID",
        "rules": rules if enabled else [],
    }


def config(name: str, value: Dict[str, Any], entity: str = "dynamic_config",
           rules: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """A dynamic config (or experiment) spec with ``value`` as its default value."""
    return {
        "name": name,
        "type": "dynamic_config",
        "entity": entity,
        "salt": name,
        "enabled": True,
        "defaultValue": value,
        "idType": "userID",
        "rules": rules or [],
        "isActive": True,
    }


def payload(gates: List[Dict[str, Any]], configs: Optional[List[Dict[str, Any]]] = None,
            layers: Optional[List[Dict[str, Any]]] = None, time: int = 1764000000000) -> bytes:
    """A dcs-v2 payload with these specs and a ``public`` condition."""
    return json.dumps(
        {
            "feature_gates": {g["name"]: g for g in gates},
            "dynamic_configs": {c["name"]: c for c in configs or []},
            "layer_configs": {lay["name"]: lay for lay in layers or []},
            "condition_map": {"public": {"type": "public", "idType": "userID"}},
            "experiment_to_layer": {},
            "has_updates": True,
            "time": time,
        }
    ).encode()


def write_atomically(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file and a rename, as the
    FileWatcher's documentation asks."""
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
