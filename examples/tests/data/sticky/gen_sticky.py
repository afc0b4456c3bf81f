"""Generates the sticky-assignment cases (persistent storage, spec: the official core's
`PersistentValuesManager`): three payloads whose allocation changes, and a script of steps.

    python3 gen_sticky.py            # writes a.json, b.json, c.json, script.jsonl here
    statsig-oracle --sticky script.jsonl > expected.jsonl

`statsig-oracle` is the reference program over Statsig's official core (../shared/oracle)
with the `--sticky` mode of `oracle-sticky.patch` (`patch -p0`-style diff of its
src/main.rs: a real in-memory `PersistentStorage` that records each save and delete, given to
the official `Statsig` as `persistent_storage`). Each step evaluates one experiment or
layer for one user on one payload, with the persisted values the official storage holds for
the user's key ("stored"), none at all ("none"), or values written here. The oracle prints
the values it passed, the official result and every save/delete the official core made.

a.json is the `experiments_layers` case with spec versions; b.json moves users: exp_ab's
Control shrinks (users switch to Test), its layer allocation halves (users leave the
experiment), layer_main delegates to exp_ab for fewer buckets, the targeting gate drops US
users, and exp_targeted gains a console override rule for two users; c.json makes exp_ab and
exp_company inactive. n.json is the `layers_new_eval` case (multi-rule layers, an experiment
whose group returns a boolean); n2.json makes its exp_ab inactive and drops exp_targeted's
Control group to nothing.
"""
import copy, json, os

here = os.path.dirname(os.path.abspath(__file__))
base = json.load(open(os.path.join(here, "..", "experiments_layers", "dcs.json")))
users = [json.loads(l) for l in open(os.path.join(here, "..", "experiments_layers", "users.jsonl"))]


def buckets(lo, hi):
    return {str(b): True for b in range(lo, hi)}


a = copy.deepcopy(base)
a["dynamic_configs"]["exp_ab"]["version"] = 3
a["dynamic_configs"]["exp_targeted"]["version"] = 7
a["layer_configs"]["layer_main"]["version"] = 2

b = copy.deepcopy(a)
b["time"] = a["time"] + 86_400_000
b["dynamic_configs"]["exp_ab"]["version"] = 4
b["condition_map"]["c4"]["targetValue"] = 250            # Control: bucket < 250 (was 500)
b["condition_map"]["c3"]["targetValue"] = buckets(0, 300)  # in exp_ab's layer slice: 300 buckets (was 600)
b["condition_map"]["c18"]["targetValue"] = buckets(0, 150)  # layer_main → exp_ab: 150 buckets (was 300)
b["condition_map"]["c2"]["targetValue"] = ["NZ"]          # the targeting gate drops US users
b["condition_map"]["c_override"] = {"type": "unit_id", "idType": "userID", "operator": "any",
                                    "targetValue": ["user-0", "user-134623", "user-63352"]}
exp_t = b["dynamic_configs"]["exp_targeted"]
exp_t["rules"].insert(0, {"id": "3vD2fR9:userID:id_override", "name": "id_override", "passPercentage": 100,
                          "conditions": ["c_override"], "returnValue": {"p": "override"}, "idType": "userID",
                          "groupName": "B", "isExperimentGroup": False})

c = copy.deepcopy(b)
c["time"] = b["time"] + 86_400_000
c["dynamic_configs"]["exp_ab"]["isActive"] = False
c["dynamic_configs"]["exp_company"]["isActive"] = False

for name, p in (("a.json", a), ("b.json", b), ("c.json", c)):
    with open(os.path.join(here, name), "w") as f:
        json.dump(p, f, sort_keys=True)
        f.write("\n")

entities = [("experiment", "exp_ab"), ("experiment", "exp_targeted"), ("experiment", "exp_inactive"),
            ("experiment", "exp_company"), ("experiment", "no_such_exp"), ("layer", "layer_main"),
            ("layer", "layer_holdout_first"), ("layer", "layer_company"), ("layer", "layer_empty")]
# Per (user, entity): assign on a, keep through b, drop without persisted values, re-assign on b,
# keep back on a, lose it when c deactivates, then assign again on a.
sequence = [("a.json", "stored"), ("b.json", "stored"), ("b.json", "none"), ("b.json", "stored"),
            ("a.json", "stored"), ("c.json", "stored"), ("a.json", "stored")]
steps = []
for user in users[:16]:
    for kind, name in entities:
        for payload, persisted in sequence:
            steps.append({"payload": payload, "kind": kind, "name": name, "user": user, "persisted": persisted})
# enforceTargeting / enforceOverrides: a sticky value from a, evaluated on b with each flag.
for user in users[:24]:
    for flags in ({}, {"enforce_targeting": True}, {"enforce_overrides": True},
                  {"enforce_targeting": True, "enforce_overrides": True}):
        for kind, name in (("experiment", "exp_targeted"), ("layer", "layer_main")):
            steps.append({"payload": "a.json", "kind": kind, "name": name, "user": user, "persisted": "stored"})
            steps.append(dict({"payload": "b.json", "kind": kind, "name": name, "user": user,
                               "persisted": "stored"}, **flags))
            steps.append({"payload": "a.json", "kind": kind, "name": name, "user": user, "persisted": "none"})

# Values written by hand: minimal ones (as the official tests write them), odd types, a layer
# value whose delegate is inactive or missing, exposures to gates the payload does not have.
hand = [
    {"exp_ab": {"value": True, "json_value": {"p": "pinned"}, "rule_id": "pinned-rule", "group_name": "Pinned",
                "secondary_exposures": [], "time": 1700000000000}},
    {"exp_ab": {"value": False, "json_value": None, "rule_id": None, "group_name": None,
                "secondary_exposures": [{"gate": "not_in_payload", "gateValue": "false", "ruleID": "r9"}],
                "undelegated_secondary_exposures": None, "config_delegate": None, "explicit_parameters": None,
                "time": 1.7e12, "config_version": 9}},
    {"exp_ab": {"value": True, "json_value": True, "rule_id": "x", "group_name": "G",
                "secondary_exposures": [], "time": "not a number", "config_version": 1}},
    {"other_experiment": {"value": True, "json_value": {"p": 1}, "rule_id": "o", "group_name": "O",
                          "secondary_exposures": [], "time": 1}},
    {},
]
layer_hand = [
    {"layer_main": {"value": True, "json_value": {"p": "sticky-layer"}, "rule_id": "experimentAssignment",
                    "group_name": "Test", "secondary_exposures": [{"gate": "holdout", "gateValue": "false", "ruleID": "default"}],
                    "undelegated_secondary_exposures": [], "config_delegate": "exp_inactive",
                    "explicit_parameters": ["p"], "time": 5, "config_version": 2}},
    {"layer_main": {"value": True, "json_value": {"p": "sticky-layer"}, "rule_id": "experimentAssignment",
                    "group_name": "Test", "secondary_exposures": [], "undelegated_secondary_exposures": None,
                    "config_delegate": "no_such_exp", "explicit_parameters": None, "time": 5, "config_version": None}},
    {"layer_main": {"value": True, "json_value": {"p": "sticky-layer"}, "rule_id": "r", "group_name": None,
                    "secondary_exposures": [], "config_delegate": None, "time": 5}},
    {"layer_main": {"value": True, "json_value": {"p": "sticky-layer"}, "rule_id": "r", "group_name": "Test",
                    "secondary_exposures": [], "config_delegate": "exp_targeted", "explicit_parameters": [],
                    "time": 5}},
]
for user in users[:6]:
    for payload in ("a.json", "b.json", "c.json"):
        for values in hand:
            steps.append({"payload": payload, "kind": "experiment", "name": "exp_ab", "user": user, "persisted": values})
        for values in layer_hand:
            for flags in ({}, {"enforce_targeting": True, "enforce_overrides": True}):
                steps.append(dict({"payload": payload, "kind": "layer", "name": "layer_main", "user": user,
                                   "persisted": values}, **flags))

# Multi-rule layers (useNewLayerEval) and boolean return values.
nl = json.load(open(os.path.join(here, "..", "layers_new_eval", "dcs.json")))
nl_users = [json.loads(l) for l in open(os.path.join(here, "..", "layers_new_eval", "users.jsonl"))]
n = copy.deepcopy(nl)
n["dynamic_configs"]["exp_ab"]["version"] = 5
n2 = copy.deepcopy(n)
n2["time"] = n["time"] + 86_400_000
n2["dynamic_configs"]["exp_ab"]["isActive"] = False
n2["condition_map"]["c10"]["targetValue"] = 0
for name, p in (("n.json", n), ("n2.json", n2)):
    with open(os.path.join(here, name), "w") as f:
        json.dump(p, f, sort_keys=True)
        f.write("\n")
nl_entities = [("experiment", e) for e in sorted(n["dynamic_configs"])] + \
              [("layer", l) for l in sorted(n["layer_configs"])]
for user in nl_users[:10]:
    for kind, name in nl_entities:
        for payload, persisted in (("n.json", "stored"), ("n2.json", "stored"), ("n.json", "stored"),
                                   ("n2.json", "none"), ("n2.json", "stored")):
            steps.append({"payload": payload, "kind": kind, "name": name, "user": user, "persisted": persisted})

with open(os.path.join(here, "script.jsonl"), "w") as f:
    for s in steps:
        f.write(json.dumps(s, sort_keys=True) + "\n")
print(len(steps), "steps")
