"""Generates the local-override cases: for each case, a list of override operations
(`ops.json`) over a payload and users that the overrides hit (`users.jsonl`), then the
official core's answers.

    python3 gen_overrides.py examples/tests/data/overrides [ORACLE]

ORACLE is a build of the reference program with the `--overrides` and `--experiment-groups`
modes (a copy of ../shared/oracle extended as described in this folder's README.md). With it,
each case's `expected.jsonl.xz` (`ORACLE --overrides ops.json PAYLOAD [TIER] < users.jsonl`)
and `groups.jsonl.xz` (`ORACLE --experiment-groups PAYLOAD [TIER] -- $(cat group_extra_names)`)
are written too.

A case folder holds `payload` (the payload's path, relative to the folder), optionally
`environment`, and what this script writes. Override ids are synthetic (`ovr-u*` for userIDs,
`ovr-c*` for custom IDs, plus a numeric one) and each generated user carries at most one
custom ID that has overrides: Statsig tries a user's custom IDs in hash-map order, so two
matching custom IDs would make its answer random.
"""
import json
import lzma
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (payload relative to the case folder, seed, number of base users)
CASES = {
    "eval_proj": ("../../../../../conformance/fixtures/eval_proj/dcs.json", 11, 24),
    "experiments_layers": ("../../experiments_layers/dcs.json", 12, 24),
    "layers_new_eval": ("../../layers_new_eval/dcs.json", 13, 24),
    "config_mapping": ("../../config_mapping/dcs.json", 14, 24),
    "random_seed56": ("../../random_seed56/dcs.json", 15, 24),
}

USER_IDS = ["ovr-u0", "ovr-u1", "ovr-u2", "12345"]
CUSTOM_IDS = ["ovr-c0", "ovr-c1", "ovr-c2"]
ID_CHOICES = [None, None] + USER_IDS + CUSTOM_IDS


def entries(section):
    if isinstance(section, dict):
        return [(k, v) for k, v in sorted(section.items())]
    return sorted(((s["name"], s) for s in section or []), key=lambda x: x[0])


def base_users(dcs_path, n, case_dir):
    """Users: the payload's own users when it has them (conformance fixtures), else the
    users of the own case the payload belongs to."""
    users_path = os.path.join(os.path.dirname(dcs_path), "users.jsonl")
    with open(users_path) as f:
        return [json.loads(line) for line in f if line.strip()][:n]


def make_users(base, rng):
    users = list(base)
    for i, b in enumerate(base[:18]):
        u = json.loads(json.dumps(b))
        kind = i % 6
        ids = {k: v for k, v in (u.get("customIDs") or {}).items() if v not in CUSTOM_IDS}
        if kind in (0, 2, 4):
            u["userID"] = USER_IDS[i % 3]
        if kind == 5:
            u["userID"] = 12345  # a number whose text is an override id
        if kind in (1, 2, 3):
            ids["companyID" if kind != 3 else "orgID"] = CUSTOM_IDS[i % 3]
        if ids:
            u["customIDs"] = ids
        users.append(u)
    users.append({"userID": "ovr-u0", "customIDs": {"companyID": "ovr-c1"}})
    users.append({"customIDs": {"companyID": "ovr-c2"}})
    users.append({})
    return users


def pass_gate_targets(dcs):
    out = set()
    for c in (dcs.get("condition_map") or {}).values():
        if c.get("type") in ("pass_gate", "fail_gate") and isinstance(c.get("targetValue"), str):
            out.add(c["targetValue"])
    for _, s in entries(dcs.get("feature_gates")):
        for r in s.get("rules") or []:
            for c in r.get("conditions") or []:
                if isinstance(c, dict) and c.get("type") in ("pass_gate", "fail_gate"):
                    out.add(c.get("targetValue"))
    return sorted(x for x in out if isinstance(x, str))


def delegates(dcs):
    out = set()
    for _, s in entries(dcs.get("layer_configs")):
        for r in s.get("rules") or []:
            if r.get("configDelegate"):
                out.add(r["configDelegate"])
    return sorted(out)


def some(rng, items, k):
    items = list(items)
    return rng.sample(items, min(k, len(items)))


def make_ops(dcs, rng):
    gates = [n for n, _ in entries(dcs.get("feature_gates"))]
    configs = entries(dcs.get("dynamic_configs"))
    experiments = [(n, s) for n, s in configs if s.get("entity") == "experiment"]
    plain_configs = [n for n, s in configs if s.get("entity") != "experiment"]
    layers = [n for n, _ in entries(dcs.get("layer_configs"))]
    stores = [n for n, _ in entries(dcs.get("param_stores") or {})]
    ops = []

    def ident():
        return rng.choice(ID_CHOICES)

    # Gates: the nested targets first (their dependants change too), then others.
    chosen = some(rng, pass_gate_targets(dcs), 6) + some(rng, gates, 8)
    for g in dict.fromkeys(chosen):
        ops.append({"op": "gate", "name": g, "value": rng.random() < 0.5, "id": ident()})
        if rng.random() < 0.4:
            ops.append({"op": "gate", "name": g, "value": rng.random() < 0.5, "id": rng.choice(USER_IDS + CUSTOM_IDS)})
    ops.append({"op": "gate", "name": "ovr_unknown_gate", "value": True, "id": None})
    for c in some(rng, plain_configs, 6):
        ops.append({"op": "dynamic_config", "name": c, "value": {"ovr": c, "n": rng.randint(0, 9)}, "id": ident()})
    ops.append({"op": "dynamic_config", "name": "ovr_unknown_config", "value": {"x": 1}, "id": "ovr-c0"})
    # Experiments: layer delegates first, by value and by group name (existing or not).
    exp_names = [n for n, _ in experiments]
    chosen = some(rng, [d for d in delegates(dcs) if d in exp_names], 4) + some(rng, exp_names, 6)
    by_name = dict(experiments)
    for e in dict.fromkeys(chosen):
        groups = [r.get("groupName") for r in by_name[e].get("rules") or [] if r.get("groupName")]
        r = rng.random()
        if groups and r < 0.5:
            ops.append({"op": "experiment_by_group_name", "name": e, "group": rng.choice(groups), "id": ident()})
        elif r < 0.65:
            ops.append({"op": "experiment_by_group_name", "name": e, "group": "NoSuchGroup", "id": ident()})
        else:
            ops.append({"op": "experiment", "name": e, "value": {"ovr": e, "flag": True}, "id": ident()})
    ops.append({"op": "experiment", "name": "ovr_unknown_experiment", "value": {"a": [1, 2]}, "id": None})
    # The same name overridden as the other kind: no effect where it is evaluated as its kind.
    if exp_names:
        ops.append({"op": "dynamic_config", "name": exp_names[0], "value": {"wrong_kind": True}, "id": None})
    if plain_configs:
        ops.append({"op": "experiment", "name": plain_configs[0], "value": {"wrong_kind": True}, "id": None})
    for lay in some(rng, layers, 4):
        ops.append({"op": "layer", "name": lay, "value": {"ovr": lay, "size": 3}, "id": ident()})
    # Parameter stores: the payload's (new parameter shapes and plain values) and a new one.
    gate_ref = gates[0] if gates else "ovr_unknown_gate"
    store_value = {
        "plain_number": 7,
        "plain_string": "seven",
        "plain_bool": False,
        "plain_object": {"k": "v"},
        "plain_array": [1, "two"],
        "gate_param": {"ref_type": "gate", "param_type": "string", "gate_name": gate_ref,
                       "pass_value": "on", "fail_value": "off"},
        "unknown_gate_param": {"ref_type": "gate", "param_type": "boolean",
                               "gate_name": "ovr_unknown_gate", "pass_value": True, "fail_value": False},
    }
    if exp_names:
        store_value["experiment_param"] = {"ref_type": "experiment", "param_type": "string",
                                           "experiment_name": exp_names[0], "param_name": "ovr"}
    if layers:
        store_value["layer_param"] = {"ref_type": "layer", "param_type": "number",
                                      "layer_name": layers[0], "param_name": "size"}
    for s in stores + ["ovr_new_store"]:
        ops.append({"op": "parameter_store", "name": s, "value": store_value, "id": ident()})
        ops.append({"op": "parameter_store", "name": s, "value": {"plain_number": 8}, "id": "ovr-u1"})
    # Removals: one id's override, then every override of a name.
    removable = [o for o in ops if o.get("id") is not None]
    for o in some(rng, removable, 4):
        ops.append({"op": "remove_" + o["op"].replace("experiment_by_group_name", "experiment"),
                    "name": o["name"], "id": o["id"]})
    for o in some(rng, ops[:-4], 3):
        if not o["op"].startswith("remove"):
            ops.append({"op": "remove_" + o["op"].replace("experiment_by_group_name", "experiment"),
                        "name": o["name"], "id": None})
    return ops


def main():
    out = sys.argv[1]
    oracle = sys.argv[2] if len(sys.argv) > 2 else None
    for name, (payload, seed, n) in CASES.items():
        case = os.path.join(out, name)
        os.makedirs(case, exist_ok=True)
        with open(os.path.join(case, "payload"), "w") as f:
            f.write(payload + "\n")
        dcs_path = os.path.normpath(os.path.join(case, payload))
        with open(dcs_path) as f:
            dcs = json.load(f)
        rng = random.Random(seed)
        ops = make_ops(dcs, rng)
        users = make_users(base_users(dcs_path, n, case), rng)
        with open(os.path.join(case, "ops.json"), "w") as f:
            json.dump(ops, f, indent=1)
            f.write("\n")
        with open(os.path.join(case, "users.jsonl"), "w") as f:
            for u in users:
                f.write(json.dumps(u, sort_keys=True) + "\n")
        if oracle is None:
            continue
        tier = []
        env_file = os.path.join(case, "environment")
        if os.path.exists(env_file):
            tier = [open(env_file).read().strip()]
        with open(os.path.join(case, "users.jsonl")) as stdin:
            res = subprocess.run([oracle, "--overrides", os.path.join(case, "ops.json"), dcs_path] + tier,
                                 stdin=stdin, capture_output=True, check=True)
        with lzma.open(os.path.join(case, "expected.jsonl.xz"), "wb") as f:
            f.write(res.stdout)
        extra = ["ovr_unknown_experiment"]
        with open(os.path.join(case, "group_extra_names"), "w") as f:
            f.write("\n".join(extra) + "\n")
        res = subprocess.run([oracle, "--experiment-groups", dcs_path] + tier + ["--"] + extra,
                             capture_output=True, check=True)
        with lzma.open(os.path.join(case, "groups.jsonl.xz"), "wb") as f:
            f.write(res.stdout)
        print(name, len(ops), "ops,", len(users), "users,", res.stdout.count(b"\n"), "group lines")


if __name__ == "__main__":
    main()
