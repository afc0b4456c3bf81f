#!/usr/bin/env python3
"""Writes script.jsonl: evaluations and parameter reads of conformance/fixtures/eval_proj for
the first users of its users.jsonl, replayed through flagcore by flagcore-sync's test
`exposures::parameter_reads_log_the_official_events` and run through the official core to
make expected.jsonl (reads' values, then every exposure event it logs, in order).

Each line: {"user", "kind": gate|config|experiment|layer, "name", "log": auto|off|manual,
"reads": [[bool|f64|i64|str|raw, parameter, fallback], ...]}, or a custom event (kind
"event", with "value" and string "metadata", logged with Statsig's log_event). Every layer parameter is read
with every type (so type mismatches, which log nothing, and repeats, which are
deduplicated, both occur), plus a parameter no layer has; each kind is also evaluated under
a name the payload does not have."""
import json
from pathlib import Path

root = Path(__file__).resolve().parents[4]
fixture = root / "conformance/fixtures/eval_proj"
dcs = json.loads((fixture / "dcs.json").read_text())
users = [json.loads(l) for l in (fixture / "users.jsonl").read_text().splitlines()[:6]]
FALLBACK = {"bool": True, "f64": -1.5, "i64": -7, "str": "fallback", "raw": None}


def reads(params):
    return [[t, p, FALLBACK[t]] for p in params + ["no_such_parameter"] for t in FALLBACK]


lines = []
for i, user in enumerate(users):
    for name, layer in sorted(dcs["layer_configs"].items()):
        params = sorted((layer.get("defaultValue") or {}).keys())
        for exp, l in dcs["experiment_to_layer"].items():
            if l == name:
                params += [p for p in dcs["dynamic_configs"][exp]["defaultValue"] if p not in params]
        log = ["auto", "off", "manual"][i % 3] if i >= 3 else "auto"
        lines.append({"user": user, "kind": "layer", "name": name, "log": log, "reads": reads(params)})
    for name, spec in sorted(dcs["dynamic_configs"].items())[:12]:
        kind = "experiment" if spec.get("entity") == "experiment" else "config"
        params = sorted((spec.get("defaultValue") or {}).keys())[:3]
        lines.append({"user": user, "kind": kind, "name": name, "log": ["auto", "off", "manual"][i % 3],
                      "reads": reads(params)})
    for name in sorted(dcs["feature_gates"])[:12]:
        lines.append({"user": user, "kind": "gate", "name": name, "log": ["auto", "manual", "off"][i % 3], "reads": []})
    # Custom events: a number, a string, no value; string metadata or none.
    for name, value, metadata in [("purchase", 9.99, {"sku": "A-1", "currency": "EUR"}),
                                  ("search", "shoes", None), ("login", None, None), ("points", 12, {"tier": "gold"})]:
        lines.append({"user": user, "kind": "event", "name": name, "value": value, "metadata": metadata,
                      "log": "auto", "reads": []})
    # Names the payload does not have: the official core's events for unknown specs.
    for kind in ["gate", "config", "experiment", "layer"]:
        lines.append({"user": user, "kind": kind, "name": "no_such_" + kind, "log": ["auto", "manual", "off"][i % 3],
                      "reads": reads([]) if kind != "gate" else []})

with open(Path(__file__).with_name("script.jsonl"), "w") as f:
    for l in lines:
        f.write(json.dumps(l, sort_keys=True) + "\n")
print(len(lines), "lines")
