"""Helpers shared by the case generators (gen_cases.py, gen_random.py): build dcs-v2 conditions,
rules and specs, collect them in a payload, convert a v2 payload to the legacy v1 shape, and write
JSON with numbers spelled as given (`Raw`)."""
import copy
import json
import re


def cond(type_, op=None, target=None, field=None, id_type="userID", salt=None):
    c = {"type": type_, "idType": id_type}
    if op is not None: c["operator"] = op
    if target is not None: c["targetValue"] = target
    if field is not None: c["field"] = field
    if salt is not None: c["additionalValues"] = {"salt": salt}
    return c

def rule(id_, conds, pct=100, ret=True, id_type="userID", **kw):
    r = {"id": id_, "name": id_, "passPercentage": pct, "conditions": conds, "returnValue": ret, "idType": id_type}
    r.update(kw)
    return r

def spec(entity, salt, rules, default=False, enabled=True, id_type="userID", **kw):
    s = {"type": "feature_gate" if entity in ("feature_gate", "segment", "holdout") else "dynamic_config",
         "entity": entity, "salt": salt, "enabled": enabled, "defaultValue": default, "idType": id_type, "rules": rules}
    s.update(kw)
    return s

class P:
    def __init__(self):
        self.gates, self.configs, self.layers, self.cm = {}, {}, {}, {}
        self.n = 0
    def c(self, **kw):
        self.n += 1
        cid = f"c{self.n}"
        self.cm[cid] = cond(**kw)
        return cid
    def gate1(self, name, **kw):
        """a gate with one rule holding one condition"""
        self.gates[name] = spec("feature_gate", name + "-salt", [rule(name + "-r", [self.c(**kw)])])
    def v2(self):
        return {"feature_gates": self.gates, "dynamic_configs": self.configs, "layer_configs": self.layers,
                "condition_map": self.cm, "experiment_to_layer": {}, "has_updates": True, "time": 1764000000000}

def v1(p2):
    """The same payload in the legacy v1 shape: arrays of named specs, inline conditions."""
    cm = p2["condition_map"]
    def conv(section):
        out = []
        for name, s in p2[section].items():
            s = copy.deepcopy(s); s["name"] = name
            for r in s["rules"]:
                r["conditions"] = [cm[c] for c in r["conditions"] if c in cm]
            out.append(s)
        return out
    out = {"feature_gates": conv("feature_gates"), "dynamic_configs": conv("dynamic_configs"),
           "layer_configs": conv("layer_configs"), "layers": {}, "has_updates": True, "time": p2["time"]}
    if "override_rules" in p2:
        rules = copy.deepcopy(p2["override_rules"])
        for r in rules.values():
            r["conditions"] = [cm[c] for c in r["conditions"] if c in cm]
        out["override_rules"] = rules
        out["overrides"] = copy.deepcopy(p2["overrides"])
    return out


class Raw:
    """A JSON number written exactly as `text` (Python's json module cannot spell `1E5` or `-0`)."""
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def value(self):
        """The number serde_json reads: an integer literal within i64/u64 stays exact, else f64."""
        if re.fullmatch(r"-?\d+", self.text) and -(2**63) <= int(self.text) < 2**64:
            return int(self.text)
        return float(self.text)


def dumps(x, **kw):
    """json.dumps that writes `Raw` numbers verbatim."""
    text = json.dumps(x, default=lambda o: "\ue000" + o.text + "\ue001", **kw)
    return re.sub(r'"\\ue000([^"\\]*)\\ue001"', r"\1", text)
