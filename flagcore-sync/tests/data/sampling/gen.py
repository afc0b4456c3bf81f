#!/usr/bin/env python3
"""Writes a small payload with exposure sampling on (dcs_on.json) and in shadow mode
(dcs_shadow.json), and script.jsonl: evaluations, reads, manual and suppressed exposures
of every entity for many users, in the format of ../exposures/script.jsonl. The oracle's
--events mode runs it through the official core (expected_on.jsonl,
expected_shadow.jsonl); flagcore-sync's test `exposures::sampling_*` replays it.

The payload has what sampling looks at (spec 11.5): rules with and without samplingRate
(0, 1 and others), `default` and `disabled` results (special_case_sampling_rate), a
forwardAllExposures gate, nested gates with a rate, without one (analytical: forces
logging) and a segment (not analytical by itself), a 50% rollout, an experiment with two
groups in a layer, explicit and implicit layer parameters, names the payload lacks."""
import json
from pathlib import Path

here = Path(__file__).resolve().parent


def cond(kind, **kw):
    c = {"type": kind, "targetValue": None, "operator": None, "field": None,
         "additionalValues": {}, "idType": "userID"}
    c.update(kw)
    return c


conditions = {
    "public": cond("public"),
    "pass_plain": cond("pass_gate", targetValue="plain_gate"),
    "pass_analytic": cond("pass_gate", targetValue="analytic_gate"),
    "pass_seg": cond("pass_gate", targetValue="segment:seg"),
    "email_x": cond("user_field", targetValue=["@x.com"], operator="str_ends_with_any", field="email"),
    "exp_ctrl": cond("user_bucket", targetValue=500, operator="lt", additionalValues={"salt": "exp-salt"}),
    "exp_test": cond("user_bucket", targetValue=500, operator="gte", additionalValues={"salt": "exp-salt"}),
}


def rule(rid, conds, rate=None, value=True, pp=100, **kw):
    r = {"name": rid, "id": rid, "salt": rid, "passPercentage": pp, "conditions": conds,
         "returnValue": value, "idType": "userID"}
    if rate is not None:
        r["samplingRate"] = rate
    r.update(kw)
    return r


def spec(name, kind, entity, rules, default, **kw):
    s = {"name": name, "type": kind, "entity": entity, "salt": name + "-salt", "enabled": True,
         "defaultValue": default, "rules": rules, "idType": "userID"}
    s.update(kw)
    return s


def gate(name, rules, entity="feature_gate", **kw):
    return spec(name, "feature_gate", entity, rules, False, **kw)


gates = {g["name"]: g for g in [
    gate("plain_gate", [rule("r_plain", ["public"], 3)]),
    gate("analytic_gate", [rule("r_analytic", ["public"])]),
    gate("segment:seg", [rule("r_seg", ["public"])], entity="segment"),
    gate("g_nested_plain", [rule("r_nested_plain", ["pass_plain"], 5)]),
    gate("g_nested_analytic", [rule("r_nested_analytic", ["pass_analytic"], 5)]),
    gate("g_on_segment", [rule("r_on_segment", ["pass_seg"], 4)]),
    gate("g_half", [rule("r_half", ["public"], 7, pp=50)]),
    gate("g_default", [rule("r_default_rule", ["email_x"], 9)]),
    gate("g_disabled", [rule("r_disabled_rule", ["email_x"], 9)], enabled=False),
    gate("g_forward", [rule("r_forward", ["public"], 6)], forwardAllExposures=True),
    gate("g_rate1", [rule("r_rate1", ["public"], 1)]),
    gate("g_rate0", [rule("r_rate0", ["public"], 0)]),
]}
configs = {c["name"]: c for c in [
    spec("c_rate5", "dynamic_config", "dynamic_config", [rule("r_c5", ["public"], 5, {"a": 1})], {"a": 0}),
    spec("c_default", "dynamic_config", "dynamic_config", [rule("r_cd", ["email_x"], 5, {"a": 1})], {"a": 0}),
    spec("exp", "dynamic_config", "experiment", [
        rule("r_ctrl", ["exp_ctrl"], 3, {"p": "c", "q": 1}, groupName="Control", isExperimentGroup=True),
        rule("r_test", ["exp_test"], 2, {"p": "t", "q": 2}, groupName="Test", isExperimentGroup=True),
    ], {"p": "d", "q": 0}, isActive=True, hasSharedParams=True, explicitParameters=["p"]),
]}
layers = {l["name"]: l for l in [
    spec("lay", "dynamic_config", "layer", [rule("r_alloc", ["public"], 11, {}, configDelegate="exp")],
         {"p": "ld", "q": -1, "r": "lr"}),
    spec("lay2", "dynamic_config", "layer", [rule("r_lay2", ["public"], 3, {"x": 1})], {"x": 0}),
]}


def payload(mode):
    return {"feature_gates": gates, "dynamic_configs": configs, "layer_configs": layers,
            "condition_map": conditions, "experiment_to_layer": {"exp": "lay"},
            "has_updates": True, "time": 1700000000000, "response_format": "dcs-v2",
            "sdk_configs": {"sampling_mode": mode, "special_case_sampling_rate": 4}}


for mode in ["on", "shadow"]:
    (here / f"dcs_{mode}.json").write_text(json.dumps(payload(mode), indent=1, sort_keys=True) + "\n")


def user(i):
    u = {"userID": f"user-{i}"}
    if i % 3 == 0:
        u["customIDs"] = {"stableID": f"s-{i}"}
    if i % 5 == 0:
        u.setdefault("customIDs", {})["companyID"] = f"c-{i % 7}"
    if i % 7 == 0:
        u["email"] = f"{i}@x.com"
    if i % 11 == 0:
        u.setdefault("customIDs", {})["num"] = i
    return u


def reads(params):
    return [[t, p, fb] for p in params for t, fb in [["str", "fallback"], ["i64", -7], ["raw", None]]]


lines = []
for i in range(100):
    u = user(i)
    # Mostly logged; some users read without logging (the non-exposed summary), some log by hand.
    log = "off" if i % 10 == 1 else "manual" if i % 10 == 2 else "auto"
    for name in gates:
        if name != "segment:seg":
            lines.append({"user": u, "kind": "gate", "name": name, "log": log, "reads": []})
    for name in ["c_rate5", "c_default"]:
        lines.append({"user": u, "kind": "config", "name": name, "log": log, "reads": reads(["a"])})
    lines.append({"user": u, "kind": "experiment", "name": "exp", "log": log, "reads": reads(["p", "q"])})
    lines.append({"user": u, "kind": "layer", "name": "lay", "log": log, "reads": reads(["p", "q", "r", "nope"])})
    lines.append({"user": u, "kind": "layer", "name": "lay2", "log": log, "reads": reads(["x"])})
    # Names the payload does not have (their rule id is empty: the special-case rate).
    for kind in ["gate", "config", "experiment", "layer"]:
        lines.append({"user": u, "kind": kind, "name": "no_such_" + kind, "log": log,
                      "reads": reads(["p"]) if kind != "gate" else []})
    # A repeat: deduplicated.
    lines.append({"user": u, "kind": "gate", "name": "g_half", "log": "auto", "reads": []})

with open(here / "script.jsonl", "w") as f:
    for l in lines:
        f.write(json.dumps(l, sort_keys=True) + "\n")
print(len(lines), "lines")
