#!/usr/bin/env python3
"""Writes the inputs of the Redis interop fixture: a small download_config_specs payload whose
gates read two ID lists, the lists (Statsig's file format: `+` and the first 8 characters of
base64(SHA-256(id)) per line) with their manifest, and the users. The answers and the Redis
contents come from the official core (see README.md)."""
import base64, hashlib, json, os

HERE = os.path.dirname(os.path.abspath(__file__))

def hashed(i):
    return base64.b64encode(hashlib.sha256(i.encode()).digest()).decode()[:8]

def rule(name, conds, ret=None, pct=100, id_type="userID"):
    return {"name": name, "id": name, "salt": name, "passPercentage": pct, "conditions": conds,
            "returnValue": ret if ret is not None else True, "isDeviceBased": False, "idType": id_type}

def gate(name, rules, id_type="userID"):
    return {"name": name, "type": "feature_gate", "entity": "feature_gate", "salt": name, "enabled": True,
            "defaultValue": False, "rules": rules, "isDeviceBased": False, "idType": id_type, "version": 1}

conditions = {
    "in_beta": {"type": "unit_id", "targetValue": "beta_users", "operator": "in_segment_list",
                "additionalValues": {}, "idType": "userID"},
    "not_blocked": {"type": "unit_id", "targetValue": "blocked_companies", "operator": "not_in_segment_list",
                    "additionalValues": {}, "idType": "companyID"},
    "pass_beta": {"type": "pass_gate", "targetValue": "beta_access", "operator": None,
                  "additionalValues": {}, "idType": "userID"},
    "public": {"type": "public", "targetValue": None, "operator": None, "additionalValues": {}, "idType": "userID"},
}
dcs = {
    "has_updates": True,
    "time": 1764000000000,
    "checksum": "interop-1",
    "condition_map": conditions,
    "feature_gates": {
        "beta_access": gate("beta_access", [rule("beta_rule", ["in_beta"])]),
        "company_allowed": gate("company_allowed", [rule("company_rule", ["not_blocked"], id_type="companyID")], id_type="companyID"),
        "everyone": gate("everyone", [rule("everyone_rule", ["public"])]),
    },
    "dynamic_configs": {
        "beta_banner": {"name": "beta_banner", "type": "dynamic_config", "entity": "dynamic_config",
                        "salt": "beta_banner", "enabled": True, "defaultValue": {"text": "welcome"},
                        "rules": [rule("banner_rule", ["pass_beta"], {"text": "welcome to the beta"})],
                        "isDeviceBased": False, "idType": "userID", "version": 1},
    },
    "layer_configs": {},
    "experiment_to_layer": {},
}
with open(os.path.join(HERE, "dcs.json"), "w") as f:
    json.dump(dcs, f, separators=(",", ":"), sort_keys=True)

lists = {"beta_users": ["u1", "u3", "u5"], "blocked_companies": ["c2"]}
manifest = {}
for i, (name, ids) in enumerate(sorted(lists.items())):
    with open(os.path.join(HERE, "lists", name), "w") as f:
        f.write("".join(f"+{hashed(x)}\n" for x in ids))
    manifest[name] = {"creationTime": 1764000000000 + i, "fileID": f"{name}-file-1"}
with open(os.path.join(HERE, "lists", "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1, sort_keys=True)
    f.write("\n")

with open(os.path.join(HERE, "users.jsonl"), "w") as f:
    for u in range(1, 7):
        f.write(json.dumps({"userID": f"u{u}", "customIDs": {"companyID": f"c{u % 3}"}}, sort_keys=True) + "\n")
    f.write(json.dumps({"customIDs": {"companyID": "c2"}}) + "\n")
