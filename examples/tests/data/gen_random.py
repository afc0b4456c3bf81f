"""Random payloads and users for differential testing against the official core.

    python3 gen_random.py SEED OUTDIR [N_USERS]

writes OUTDIR/dcs.json (dcs-v2, 10-40 specs), OUTDIR/users.jsonl and, for some seeds,
OUTDIR/environment (the SDK tier). Deterministic per SEED. Then:

    statsig-oracle OUTDIR/dcs.json [TIER] < OUTDIR/users.jsonl > expected.jsonl
    evaluate       OUTDIR/dcs.json [TIER] < OUTDIR/users.jsonl > actual.jsonl
    compare.py expected.jsonl actual.jsonl

The payloads mix every condition type and operator of the spec with odd target values
(numbers as strings, mixed-case lists, odd versions, seconds vs milliseconds, regexes with
look-around, nulls), nested gates and segments, holdouts, experiments in layers (with
delegation and useNewLayerEval), config mapping and environment tiers. Inputs that crash
the official core (spec 14: `eq` against a case-duplicated array, IPv4 values >= 2^32) are
never generated.
"""
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dcs_helpers import P, rule, spec  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
UA_FILE = os.path.join(HERE, "../../../conformance/user_agents/user_agents.txt")

TOP_FIELDS = ["userID", "userid", "USERID", "email", "Email", "ip", "IP", "country", "Country", "locale",
              "appVersion", "appversion", "app_version", "userAgent", "useragent", "user_agent", "user_id"]
CUSTOM_FIELDS = ["level", "Level", "tier", "Tier", "tags", "signup", "beta", "score", "nested", "os_name",
                 "country", "ver", "flag", "name", "big"]
ID_TYPES = ["userID", "userid", "UserID", "stableID", "stableid", "companyID", "CompanyID", "companyid", "orgID"]
UA_FIELDS = ["os_name", "OS_NAME", "osname", "os_version", "browser_name", "browserName", "browser_version",
             "browserversion", "device", ""]
IP_FIELDS = ["country", "Country", "ip", "city"]
ENV_FIELDS = ["tier", "TIER", "Tier", "region"]
TIERS = ["production", "staging", "development", "Staging", "PRODUCTION", "", "qa"]
PCTS = [0, 0.5, 33.3, 33.33, 50, 99.99, 100, 100, 100, 100, 10, 75.5]

STRINGS = ["gold", "Gold", "GOLD", "silver", "", "a", "A", "test", "İstanbul", "straße", "ΣΑΣ", "σας",
           "5", "5.0", "-1", "1e3", "inf", "NaN", " 5", "true", "false", "null", "NZ", "us", "US",
           "admin@acme.com", "@acme.com", "1.2.3", "iOS", "Chrome", "Windows", "Mac OS X", "10", "Android"]
NUMBERS = [0, 1, 5, 5.0, 5.5, -1, -0.0, 7, 10, 10.5, 1e3, 1e15, 1e16, 1e21, 1e-7, 0.1, 12345678901234567890,
           9007199254740993, 330, 999, 1000, 2**63, -(2**63)]
VERSIONS = ["1.2.3", "1.2.3-beta", "01.2", "", "1", "+1", "1.0.0", " 1 . 2", "1..2", "v1", "1.x", "2.0",
            "10.0", "1.2.3.4", "0.9", "2023-01-01T00:00:00Z", "-5", "1.10", "17.1", "16.6", "120.0.0.0", "1e3",
            "9999999999999999999999", "1.2.3-rc.1", "10_3", "14"]
TIMES = [1700000000000, 1700000000, "1700000000000", "1700000000", "2023-11-14T22:13:20Z", "2023-11-14 22:13:20",
         "2023-11-14t22:13:20z", "2023-11-14T22:13:20.000Z", "2023-11-14T22:13:20+01:00", "2023-11-14",
         1699999999999, 1700000000001, 9999999999, 10000000000, -5, 1.5e12, 1700000000.5, "abc", 946684800000,
         4102444800000, 0, 86400000, "1970-01-02 00:00:00"]
REGEXES = ["^[a-z]+@(?!spam)[a-z]+\\.com$", "(?<=@)acme", "^\\d+$", "(?i)gold", "gold", "([a-z", "^$", ".*",
           "\\w+\\s\\w+", "^(a+)+$", "(\\w)\\1", "^5$", "true", "ß", "(?i)STRASSE", "[", "^.{3}$", "\\p{Greek}"]
CMP_IDS = ["u1", "U1", "42", 42, "user-7", "", "acme", "ACME", "c-1", 7, 7.0, True, "true", None]


def choice(rng, xs):
    return xs[rng.randrange(len(xs))]


def load_uas():
    try:
        with open(UA_FILE, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f]
    except OSError:
        return ["Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 Version/16.6 Mobile/15E148 Safari/604.1"]


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.p = P()
        self.gate_names, self.exp_names, self.group_names = [], [], ["Control", "Test", "control", "A", "B"]

    # ---- values ----
    def scalar(self):
        r = self.rng
        k = r.randrange(10)
        if k < 4: return choice(r, STRINGS)
        if k < 7: return choice(r, NUMBERS)
        if k < 8: return r.random() < 0.5
        if k < 9: return None
        return choice(r, VERSIONS)

    def mixed_list(self, allow_case_dups=True):
        r = self.rng
        out = []
        for _ in range(r.randrange(0, 6)):
            k = r.randrange(12)
            if k == 0: out.append({"a": choice(r, [1, "x"])})
            elif k == 1: out.append([1, "a"])
            else: out.append(self.scalar())
        if allow_case_dups and r.random() < 0.2 and out:
            x = out[0]
            if isinstance(x, str): out.append(x.upper() if x != x.upper() else x.lower())
        if not allow_case_dups:
            seen, uniq = set(), []
            for x in out:
                key = (x if isinstance(x, str) else json.dumps(x)).lower()
                if key not in seen:
                    seen.add(key)
                    uniq.append(x)
            out = uniq
        return out

    def target_for(self, op, kind):
        r = self.rng
        if r.random() < 0.05: return None
        if op in ("gt", "gte", "lt", "lte"):
            if kind == "user_bucket": return choice(r, [0, 1, 330, 500, 999, 1000, "500", 500.5])
            return choice(r, NUMBERS + ["10", "5.5", "1e3", " 5", "inf", "-inf", "NaN", "abc", True, [5]])
        if op.startswith("version_"):
            return choice(r, VERSIONS + [1.2, 2, None, True])
        if op in ("any", "none", "str_starts_with_any", "str_ends_with_any", "str_contains_any",
                  "str_contains_none", "any_case_sensitive", "none_case_sensitive"):
            if kind == "user_bucket" and r.random() < 0.6:
                if r.random() < 0.5:
                    lo = r.randrange(0, 1000); hi = min(1000, lo + r.randrange(1, 600))
                    return {str(b): True for b in range(lo, hi)}
                return [r.randrange(1000) for _ in range(r.randrange(1, 30))] + [choice(r, ["500", "07", 1.0])]
            if kind == "unit_id" and r.random() < 0.6:
                return [choice(r, CMP_IDS) for _ in range(r.randrange(1, 5))] + self.id_pool(3)
            if r.random() < 0.08: return {choice(r, ["gold", "Gold", "5", "true"]): True}
            if r.random() < 0.05: return choice(r, ["gold", 5])
            lst = self.mixed_list()
            if r.random() < 0.6:
                lst += [choice(r, self.pool_for(kind)) for _ in range(r.randrange(1, 4))]
            return lst
        if op in ("eq", "neq"):
            k = r.randrange(8)
            if k == 0: return self.mixed_list(allow_case_dups=False)
            if k == 1: return {"a": choice(r, [1, "x", True])}
            if k < 4: return choice(r, self.pool_for(kind))
            return self.scalar()
        if op == "str_matches":
            return choice(r, REGEXES + [5, None, True])
        if op in ("before", "after", "on"):
            return choice(r, TIMES + [None, True])
        if op.startswith("array_") or op == "not_array_contains_all":
            if r.random() < 0.1: return choice(r, ["a", 1, None, {"a": 1}])
            return self.mixed_list() + [choice(r, ["a", "b", 1, "1", 5.0, True])]
        if op in ("in_segment_list", "not_in_segment_list"):
            return choice(r, ["company_id_list", "", None, 5])
        return self.scalar()

    def pool_for(self, kind):
        if kind == "ua_based":
            return ["iOS", "ios", "Android", "Windows", "Mac OS X", "Chrome", "Chrome Mobile", "Safari",
                    "Mobile Safari", "Firefox", "Edge", "Other", "10", "16.6", "0.0.0", "120.0.0.0"]
        if kind == "ip_based": return ["US", "us", "NZ", "GB", "", "--"]
        if kind == "environment_field": return TIERS
        if kind == "target_app": return ["app-1", "APP-1", "app-2", 5, "5"]
        if kind == "experiment_group": return self.group_names
        return STRINGS

    def id_pool(self, n):
        return [f"u{self.rng.randrange(6)}" for _ in range(n)]

    # ---- conditions ----
    OPS = ["gt", "gte", "lt", "lte", "version_gt", "version_gte", "version_lt", "version_lte", "version_eq",
           "version_neq", "any", "none", "any_case_sensitive", "none_case_sensitive", "str_starts_with_any",
           "str_ends_with_any", "str_contains_any", "str_contains_none", "eq", "neq", "str_matches", "before",
           "after", "on", "array_contains_any", "array_contains_none", "array_contains_all",
           "not_array_contains_all", "in_segment_list", "not_in_segment_list"]

    def condition(self, depth_ok=True):
        r = self.rng
        kinds = ["public", "user_field", "user_field", "user_field", "user_field", "environment_field", "unit_id",
                 "user_bucket", "current_time", "ua_based", "ua_based", "ip_based", "target_app", "pass_gate",
                 "fail_gate", "pass_gate", "experiment_group", "multi_pass_gate", "multi_fail_gate", "quantum"]
        kind = choice(r, kinds)
        if kind in ("multi_pass_gate", "multi_fail_gate") and r.random() < 0.7:
            kind = kind.replace("multi_", "")
        id_type = choice(r, ID_TYPES) if r.random() < 0.4 else "userID"
        c = {"type": kind, "idType": id_type}
        if kind in ("public",):
            if r.random() < 0.2: c["operator"] = choice(r, ["any", None])
            return c
        if kind in ("pass_gate", "fail_gate", "multi_pass_gate", "multi_fail_gate"):
            if kind.startswith("multi"):
                c["targetValue"] = [choice(r, self.gate_names + ["nope"]) for _ in range(2)] if self.gate_names else []
                c["operator"] = "any"
                return c
            opts = self.gate_names + ["no_such_gate", "", "segment:none"]
            c["targetValue"] = choice(r, opts) if (self.gate_names and r.random() < 0.9) else choice(r, opts + [5, None])
            if r.random() < 0.3: c["operator"] = choice(r, ["any", None])
            return c
        if kind == "current_time":
            op = choice(r, ["before", "after", "on", "on", "gt", "any", "eq"])
            c["operator"] = op
            t = choice(r, [946684800000, 4102444800000, "2000-01-01T00:00:00Z", 1700000000, None, "2100-01-01 00:00:00"])
            if op == "eq": t = None
            if t is not None: c["targetValue"] = t
            return c
        if kind == "user_bucket":
            op = choice(r, ["lt", "lt", "gt", "gte", "lte", "any", "none", "any", "eq"])
            c["operator"] = op
            c["targetValue"] = self.target_for(op, kind)
            if r.random() < 0.8: c["additionalValues"] = {"salt": choice(r, ["s1", "layer-salt", "", "bucket"])}
            return c
        if kind == "quantum":
            c["operator"] = "any"; c["targetValue"] = ["x"]
            return c
        # field-based and unit_id
        if kind == "user_field": c["field"] = choice(r, TOP_FIELDS + CUSTOM_FIELDS + CUSTOM_FIELDS)
        elif kind == "ua_based": c["field"] = choice(r, UA_FIELDS)
        elif kind == "ip_based": c["field"] = choice(r, IP_FIELDS)
        elif kind == "environment_field": c["field"] = choice(r, ENV_FIELDS)
        elif kind == "experiment_group":
            c["field"] = choice(r, self.exp_names + ["no_such_exp"]) if self.exp_names else "no_such_exp"
        if r.random() < 0.03 and "field" in c: del c["field"]
        if kind in ("ua_based",):
            op = choice(r, ["any", "none", "version_gt", "version_gte", "version_lt", "version_lte", "version_eq",
                            "version_neq", "str_contains_any", "eq", "str_matches", "any_case_sensitive"])
        elif kind in ("ip_based", "environment_field", "target_app", "experiment_group"):
            op = choice(r, ["any", "none", "eq", "neq", "any_case_sensitive", "str_contains_any", "none_case_sensitive"])
        elif kind == "unit_id":
            op = choice(r, ["any", "none", "eq", "neq", "any_case_sensitive", "in_segment_list", "not_in_segment_list",
                            "str_starts_with_any", "gt"])
        else:
            op = choice(r, self.OPS)
        if r.random() < 0.02: op = choice(r, ["frobnicate", None])
        if op is not None: c["operator"] = op
        t = self.target_for(op or "any", kind)
        if t is not None or r.random() < 0.5: c["targetValue"] = t
        return c

    def cid(self, c):
        self.p.n += 1
        k = f"c{self.p.n}"
        self.p.cm[k] = c
        return k

    def conds(self, lo=0, hi=3):
        r = self.rng
        out = [self.cid(self.condition()) for _ in range(r.randrange(lo, hi + 1))]
        if r.random() < 0.02: out.insert(r.randrange(len(out) + 1), "missing-cond")
        return out

    def ret(self, gate=False):
        r = self.rng
        k = r.randrange(12)
        if k < 2: return True
        if k < 4: return False if gate else {"p": "f"}
        if k == 4: return None
        if k == 5: return choice(r, [[1, 2], "true", 5])
        return {choice(r, ["p", "q", "k", "color"]): self.scalar(), choice(r, ["n", "p", "arr"]): choice(r, [1, 1.5, [1, 2], {"x": None}])}

    def rules(self, n, gate=False, **kw):
        r = self.rng
        out = []
        for i in range(n):
            extra = {}
            if r.random() < 0.3: extra["salt"] = choice(r, ["", "rs", "x.y"])
            if r.random() < 0.2: extra["groupName"] = choice(r, self.group_names)
            if r.random() < 0.2: extra["isExperimentGroup"] = r.random() < 0.5
            if r.random() < 0.1: extra["samplingRate"] = choice(r, [1, 101])
            extra.update(kw)
            out.append(rule(f"r{r.randrange(10**6)}", self.conds(), pct=choice(r, PCTS), ret=self.ret(gate),
                            id_type=choice(r, ID_TYPES) if r.random() < 0.3 else "userID", **extra))
        return out

    # ---- specs ----
    def build(self):
        r, p = self.rng, self.p
        n_gates = r.randrange(4, 14)
        # holdouts and segments first (nested gates may reference any earlier gate, and some later ones)
        names = [f"g{i}" for i in range(n_gates)]
        self.gate_names = list(names)
        for _ in range(r.randrange(0, 3)):
            h = f"holdout_{r.randrange(100)}"
            self.gate_names.append(h)
            p.gates[h] = spec("holdout", f"{h}-id", [rule(f"{h}:{choice(r, ['0.50', '10.00'])}:1", [self.cid({"type": "public", "idType": "userID"})],
                                                           pct=choice(r, [0.5, 10, 33.3, 50]), salt=f"{h}-id")])
        for i in range(r.randrange(0, 3)):
            s = f"segment:seg{i}"
            self.gate_names.append(s)
            p.gates[s] = spec("segment", f"seg{i}", self.rules(r.randrange(1, 3), gate=True))
        for name in names:
            rules = self.rules(r.randrange(0, 4), gate=True)
            hs = [g for g in self.gate_names if g.startswith("holdout")]
            if hs and r.random() < 0.3:
                rules.insert(0, rule(f"{hs[0]}:rule", [self.cid({"type": "pass_gate", "idType": "userID", "targetValue": hs[0]})], ret=False))
            p.gates[name] = spec("feature_gate", f"{name}-salt", rules, default=choice(r, [False, False, True, "true", None, {"a": 1}]),
                                 enabled=r.random() < 0.8, id_type=choice(r, ["userID", "stableID", "companyID"]))
        # experiments and configs
        layer_names = [f"layer{i}" for i in range(r.randrange(0, 4))]
        exps = [f"exp{i}" for i in range(r.randrange(1, 8))]
        self.exp_names = list(exps)
        for e in exps:
            salt = f"{e}-salt"
            lsalt = choice(r, layer_names) + "-salt" if layer_names else "nolayer"
            id_type = choice(r, ["userID", "userID", "stableID", "companyID", "CompanyID"])
            rules = []
            hs = [g for g in self.gate_names if g.startswith("holdout")]
            if hs and r.random() < 0.4:
                rules.append(rule(f"{hs[-1]}:hold", [self.cid({"type": "pass_gate", "idType": id_type, "targetValue": hs[-1]})], ret={}, id_type=id_type))
            lo = r.randrange(0, 1000)
            alloc = {str(b): True for b in range(lo, min(1000, lo + r.randrange(1, 1000)))}
            if r.random() < 0.7:
                rules.append(rule("layerAssignment", [self.cid({"type": "user_bucket", "idType": id_type, "operator": "none", "targetValue": alloc, "additionalValues": {"salt": lsalt}})],
                                  ret={"p": "default"}, id_type=id_type))
            if r.random() < 0.5:
                rules.append(rule("targetingGate", [self.cid({"type": "fail_gate", "idType": id_type, "targetValue": choice(r, self.gate_names)})], ret={"p": "default"}, id_type=id_type))
            rules += self.rules(r.randrange(0, 2))
            bound = 0
            for gname in r.sample(self.group_names, r.randrange(1, 4)):
                bound = min(1000, bound + r.randrange(100, 700))
                rules.append(rule(f"{e}-{gname}", [self.cid({"type": "user_bucket", "idType": id_type, "operator": "lt", "targetValue": bound, "additionalValues": {"salt": salt}})],
                                  pct=choice(r, [100, 100, 100, 50]), ret={"p": f"{e}-{gname}", "v": r.randrange(9)}, id_type=id_type, groupName=gname,
                                  isExperimentGroup=r.random() < 0.9))
            extra = {}
            if r.random() < 0.8: extra["isActive"] = r.random() < 0.7
            if r.random() < 0.7: extra["hasSharedParams"] = True
            if r.random() < 0.7: extra["explicitParameters"] = choice(r, [["p"], ["p", "v"], []])
            p.configs[e] = spec(choice(r, ["experiment", "experiment", "autotune"]), salt, rules, default=choice(r, [{"p": "default"}, {}, None, True]),
                                enabled=r.random() < 0.85, id_type=id_type, **extra)
        for i in range(r.randrange(1, 6)):
            n = f"cfg{i}"
            rules = self.rules(r.randrange(0, 4))
            # delegation outside layers: configs (and, below, experiments) handing off
            if r.random() < 0.25:
                rules.insert(r.randrange(len(rules) + 1), rule(f"{n}-deleg", self.conds(0, 2), pct=choice(r, PCTS), ret={"d": 1},
                                                               configDelegate=choice(r, exps + list(p.configs) + ["no_such_exp"])))
            p.configs[n] = spec("dynamic_config", f"{n}-salt", rules, default=self.ret(), enabled=r.random() < 0.85,
                                id_type=choice(r, ["userID", "stableID"]))
        for e in exps:
            if r.random() < 0.15:
                p.configs[e]["rules"].insert(0, rule(f"{e}-deleg", self.conds(0, 2), pct=choice(r, PCTS), ret={"d": 2},
                                                     configDelegate=choice(r, exps + ["no_such_exp"])))
        for ln in layer_names:
            rules = []
            hs = [g for g in self.gate_names if g.startswith("holdout")]
            if hs and r.random() < 0.4:
                rules.append(rule(f"{hs[0]}:layer", [self.cid({"type": "pass_gate", "idType": "userID", "targetValue": hs[0]})], ret={"p": "held"}))
            for _ in range(r.randrange(1, 5)):
                if r.random() < 0.7:
                    lo = r.randrange(0, 1000)
                    cnd = [self.cid({"type": "user_bucket", "idType": "userID", "operator": "any",
                                     "targetValue": {str(b): True for b in range(lo, min(1000, lo + r.randrange(1, 700)))}, "additionalValues": {"salt": f"{ln}-salt"}})]
                    if r.random() < 0.3: cnd += self.conds(1, 1)
                    rules.append(rule("experimentAssignment", cnd, pct=choice(r, PCTS), ret={"p": "layer"},
                                      configDelegate=choice(r, exps + ["no_such_exp"]), isExperimentGroup=r.random() < 0.3))
                else:
                    rules += self.rules(1)
            p.layers[ln] = spec("layer", f"{ln}-salt", rules, default=choice(r, [{"p": "ld", "q": 1}, {}, {"p": "ld"}]), enabled=r.random() < 0.9,
                                **({"useNewLayerEval": r.random() < 0.6} if r.random() < 0.7 else {}))
        # forward references: some gate conditions were generated before later gates existed;
        # add a few chained gates that reference any gate (cycles are possible and fine)
        for i in range(r.randrange(0, 3)):
            n = f"late{i}"
            self.gate_names.append(n)
            p.gates[n] = spec("feature_gate", f"{n}-salt", self.rules(r.randrange(1, 3), gate=True), enabled=r.random() < 0.9)
        payload = p.v2()
        if r.random() < 0.3: payload["app_id"] = choice(r, ["app-1", "APP-1", 5, None, ["app-1"]])
        if r.random() < 0.2: payload["default_environment"] = choice(r, TIERS)
        # config mapping
        if r.random() < 0.35:
            orules, overrides = {}, {}
            for j in range(r.randrange(1, 4)):
                orules[f"or{j}"] = rule(f"or{j}_override", self.conds(0, 2), pct=choice(r, PCTS),
                                        id_type=choice(r, ["userID", "stableID"]), **({"salt": "ors"} if r.random() < 0.3 else {}))
            targets = list(p.gates) + list(p.configs) + list(p.layers)
            for _ in range(r.randrange(1, 4)):
                src = choice(r, targets + ["ghost"])
                overrides[src] = [{"new_config_name": choice(r, targets + ["ghost2"]),
                                   "rules": [dict(rule_name=choice(r, list(orules) + ["unknown"]),
                                                  **({"start_time": choice(r, [1000000000000, 4102444800000])} if r.random() < 0.6 else {}))
                                             for _ in range(r.randrange(1, 3))]} for _ in range(r.randrange(1, 3))]
            payload["override_rules"] = orules
            payload["overrides"] = overrides
        return payload

    # ---- users ----
    def user(self, uas):
        r = self.rng
        u = {}
        def idv():
            return choice(r, [f"u{r.randrange(6)}", f"user-{r.randrange(10**6)}", r.randrange(100), "", "42", 7.0, True, 1.5, "ACME", "acme", None])
        if r.random() < 0.9: u["userID"] = idv()
        if r.random() < 0.5:
            u["customIDs"] = {choice(r, ID_TYPES): idv() for _ in range(r.randrange(0, 4))}
        if r.random() < 0.5: u["email"] = choice(r, ["admin@acme.com", "Bob@Example.IO", "test42@x.com", "alice@spam.com", "", "x", 5, True])
        if r.random() < 0.4: u["ip"] = choice(r, ["1.0.0.0", "8.8.8.8", "81.2.69.142", "2001:4860::8888", "not-an-ip", "", "+8.8.8.8", "10.0.0.1"])
        if r.random() < 0.6: u["userAgent"] = choice(r, uas) if r.random() < 0.9 else choice(r, ["", 5, "x" * 1001])
        if r.random() < 0.5: u["country"] = choice(r, ["US", "us", "NZ", "GB", "", "--", 5])
        if r.random() < 0.3: u["locale"] = choice(r, ["en_US", "EN_us", "", "fr_FR"])
        if r.random() < 0.5: u["appVersion"] = choice(r, VERSIONS + [1.3, 2, None])
        for key in ("custom", "privateAttributes"):
            if r.random() < (0.75 if key == "custom" else 0.25):
                m = {}
                for _ in range(r.randrange(0, 6)):
                    f = choice(r, CUSTOM_FIELDS + TOP_FIELDS[:6] + ["os_name", "browser_name", "tier"])
                    m[f] = self.user_value(f)
                u[key] = m
        if r.random() < 0.3:
            u["statsigEnvironment"] = {choice(r, ENV_FIELDS): choice(r, TIERS + [None, 5])} if r.random() < 0.9 else {}
        return u

    def user_value(self, f):
        r = self.rng
        k = r.randrange(10)
        if f in ("signup",) or k == 0: return choice(r, TIMES)
        if f in ("ver",) or k == 1: return choice(r, VERSIONS)
        if f in ("tags",) or k == 2: return [self.scalar() for _ in range(r.randrange(0, 4))]
        if f == "nested" or k == 3: return {"a": self.scalar(), "b": [1, {"c": None}]}
        if k == 4: return choice(r, self.group_names)
        return self.scalar()


def main():
    seed, out = int(sys.argv[1]), sys.argv[2]
    n_users = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    g = Gen(seed)
    payload = g.build()
    uas = load_uas()
    users = [g.user(uas) for _ in range(n_users)] + [{}]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "dcs.json"), "w") as f:
        json.dump(payload, f, indent=1)
    with open(os.path.join(out, "users.jsonl"), "w") as f:
        f.write("".join(json.dumps(u) + "\n" for u in users))
    env = os.path.join(out, "environment")
    if g.rng.random() < 0.35:
        with open(env, "w") as f:
            f.write(choice(g.rng, TIERS[:5]) + "\n")
    elif os.path.exists(env):
        os.remove(env)


if __name__ == "__main__":
    main()
