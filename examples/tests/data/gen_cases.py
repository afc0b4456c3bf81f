"""Generates this project's own conformance cases (payloads, v1 twins and users).

    python3 gen_cases.py examples/tests/data
    for c in operators experiments_layers depth_limits layers_new_eval config_mapping \
             integer_form array_elements_without_string_form; do
      statsig-oracle examples/tests/data/$c/dcs.json < examples/tests/data/$c/users.jsonl \
        > examples/tests/data/$c/expected.jsonl
    done

`statsig-oracle` is the reference evaluator built from ../shared/oracle (the official core).
The `*_v1` cases are the same payloads in the legacy v1 shape; they reuse the users and the
official answers of their v2 twin (the official core itself rejects v1 payloads).
"""
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
out = sys.argv[1]

from dcs_helpers import cond, rule, spec, P, Raw, dumps, v1  # noqa: E402,F401

# ---- case 1: operators ----
p = P()
g = p.gate1
g("num_gt", type_="user_field", op="gt", target=10, field="level")
g("num_gte_str", type_="user_field", op="gte", target="10.5", field="level")
g("num_lt_email", type_="user_field", op="lt", target=3, field="email")
g("num_lte", type_="user_field", op="lte", target=-1, field="score")
g("ver_gt", type_="user_field", op="version_gt", target="1.2.3", field="appVersion")
g("ver_gte", type_="user_field", op="version_gte", target="1.2", field="appVersion")
g("ver_lt", type_="user_field", op="version_lt", target="2.0.0-beta", field="appVersion")
g("ver_lte", type_="user_field", op="version_lte", target="10", field="appVersion")
g("ver_eq", type_="user_field", op="version_eq", target="1.2.3", field="appVersion")
g("ver_neq", type_="user_field", op="version_neq", target="1.2.3", field="appVersion")
g("any_ci", type_="user_field", op="any", target=["NZ", "us", 12], field="country")
g("none_ci", type_="user_field", op="none", target=["nz", "US"], field="country")
g("any_cs", type_="user_field", op="any_case_sensitive", target=["NZ", "us"], field="country")
g("none_cs", type_="user_field", op="none_case_sensitive", target=["NZ"], field="country")
g("starts", type_="user_field", op="str_starts_with_any", target=["ADMIN", "root"], field="email")
g("ends", type_="user_field", op="str_ends_with_any", target=["@ACME.com", ".io"], field="email")
g("contains", type_="user_field", op="str_contains_any", target=["test", 42], field="email")
g("contains_none", type_="user_field", op="str_contains_none", target=["test"], field="email")
g("eq_str", type_="user_field", op="eq", target="gold", field="tier")
g("eq_num", type_="user_field", op="eq", target=7, field="level")
g("eq_null", type_="user_field", op="eq", target=None, field="tier")
g("eq_bool", type_="user_field", op="eq", target=True, field="beta")
g("neq_str", type_="user_field", op="neq", target="gold", field="tier")
g("regex", type_="user_field", op="str_matches", target="^[a-z]+@(?!spam)[a-z]+\\.com$", field="email")
g("regex_bad", type_="user_field", op="str_matches", target="([a-z", field="email")
g("arr_any", type_="user_field", op="array_contains_any", target=["a", 1], field="tags")
g("arr_none", type_="user_field", op="array_contains_none", target=["a", 1], field="tags")
g("arr_all", type_="user_field", op="array_contains_all", target=["a", "b"], field="tags")
g("arr_not_all", type_="user_field", op="not_array_contains_all", target=["a", "b"], field="tags")
g("before", type_="user_field", op="before", target=1700000000000, field="signup")
g("after", type_="user_field", op="after", target="2023-11-14T22:13:20Z", field="signup")
g("on", type_="user_field", op="on", target=1700000000000, field="signup")
g("time_far_past", type_="current_time", op="after", target=946684800000)
g("time_far_future", type_="current_time", op="before", target=4102444800000)
g("unit_any", type_="unit_id", op="any", target=["42", "u-1", 7])
g("unit_company", type_="unit_id", op="any", target=["acme"], id_type="companyID")
g("bucket_lt", type_="user_bucket", op="lt", target=300, salt="bucket-salt")
g("bucket_any", type_="user_bucket", op="any", target=[1, 2, 3, "500", 999, "07"], salt="x")
g("env_tier", type_="environment_field", op="any", target=["staging"], field="tier")
g("unknown_op", type_="user_field", op="frobnicate", target=["x"], field="email")
g("unknown_type", type_="quantum", op="any", target=["x"], field="email")
g("no_op", type_="user_field", target=["x"], field="email")
g("private_attr", type_="user_field", op="any", target=["secret"], field="token")
g("locale_field", type_="user_field", op="any", target=["en_us"], field="LOCALE")
# nested: pass/fail, unknown, segment, disabled, chains
p.gates["segment:vip"] = spec("segment", "seg", [rule("seg-r", [p.c(type_="user_field", op="any", target=["gold"], field="tier")])])
p.gates["disabled_gate"] = spec("feature_gate", "d", [rule("dis-r", [p.c(type_="public")])], enabled=False)
p.gates["nested"] = spec("feature_gate", "n", [
    rule("n1", [p.c(type_="pass_gate", target="segment:vip"), p.c(type_="fail_gate", target="num_gt")]),
    rule("n2", [p.c(type_="pass_gate", target="disabled_gate"), p.c(type_="pass_gate", target="no_such_gate")]),
    rule("n3", [p.c(type_="fail_gate", target="no_such_gate"), p.c(type_="pass_gate", target="any_ci")], pct=50)])
p.gates["unsupported_nested"] = spec("feature_gate", "u", [rule("u1", [p.c(type_="pass_gate", target="nested"), p.c(type_="pass_gate", target="unknown_type")])])
p.gates["test_public"] = spec("feature_gate", "tp", [rule("tp", [p.c(type_="public")])])
p.gates["cycle"] = spec("feature_gate", "cy", [rule("cy", [p.c(type_="pass_gate", target="cycle")])])
p.gates["rollout_33"] = spec("feature_gate", "r33", [rule("r33", [p.c(type_="public")], pct=33.33, salt="")])
p.gates["rollout_stable"] = spec("feature_gate", "rs", [rule("rs", [p.c(type_="public")], pct=50, id_type="stableID")], id_type="stableID")
p.gates["returns_obj"] = spec("feature_gate", "ro", [rule("ro", [p.c(type_="user_field", op="any", target=["gold"], field="tier")], ret={"a": 1})], default=True)
p.configs["cfg"] = spec("dynamic_config", "cfg", [
    rule("cfg-gold", [p.c(type_="user_field", op="any", target=["gold"], field="tier")], ret={"color": "gold", "n": 1.5}),
    rule("cfg-half", [p.c(type_="public")], pct=50, ret={"color": "half", "arr": [1, 2]})], default={"color": "none"})
p.configs["cfg_bool_ret"] = spec("dynamic_config", "cb", [rule("cb", [p.c(type_="public")], ret=True)], default=None)
p.configs["cfg_unsupported"] = spec("dynamic_config", "cu", [rule("cu", [p.c(type_="public"), p.c(type_="mystery")], ret={"x": 1})], default={"d": 0})
ops = p.v2()

users = []
for i in range(48):
    u = {"userID": f"u-{i}" if i % 5 else i}
    if i % 3 == 0: u["email"] = ["admin@acme.com", "Bob@Example.IO", "test42@x.com", "alice@spam.com", "carol@shop.com"][i % 5]
    if i % 4 != 1: u["country"] = ["NZ", "us", "Us", "de"][i % 4]
    if i % 2: u["appVersion"] = ["1.2.3", "1.2.4", "1.10", "2.0.0", "0.9", "v1.2", "1.2.3.4", ""][i % 8]
    custom = {}
    if i % 3 != 2: custom["level"] = [5, "11", 10.5, "abc", 7, -3][i % 6]
    if i % 4 == 0: custom["tier"] = ["gold", "silver", None, "GOLD"][(i // 4) % 4]
    if i % 5 == 1: custom["tags"] = [["a"], ["a", "b"], [1, "c"], [], ["b", "a", "z"]][(i // 5) % 5]
    if i % 6 == 2: custom["signup"] = [1699999999000, 1700000000000, "2023-11-14T22:13:20Z", 1700000000, "2023-11-15"][(i // 6) % 5]
    if i % 7 == 3: custom["beta"] = [True, "true", 1][(i // 7) % 3]
    if i % 8 == 5: custom["score"] = [-2, "-1", 0][(i // 8) % 3]
    if custom: u["custom"] = custom
    if i % 9 == 4: u["privateAttributes"] = {"token": "secret"}
    if i % 10 == 6: u["customIDs"] = {"companyID": "acme", "stableID": f"s-{i}"}
    if i % 10 == 7: u["customIDs"] = {"stableID": f"s-{i}"}
    if i % 11 == 8: u["statsigEnvironment"] = {"tier": "staging"}
    if i % 12 == 9: u["locale"] = "en_US"
    users.append(u)
users.append({}); users.append({"userID": "42"}); users.append({"userID": 7})

def write(case, payload, users=None, same_as=None):
    d = os.path.join(out, case); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "dcs.json"), "w").write(dumps(payload, indent=1))
    if users is not None:
        open(os.path.join(d, "users.jsonl"), "w").write("".join(dumps(u) + "\n" for u in users))
    if same_as:
        open(os.path.join(d, "same_as"), "w").write(same_as + "\n")

write("operators", ops, users)

# ---- depth limits: a chain of 66 gates (nesting fails past 64 levels) and a cycle ----
d = P()
for i in range(66):
    nxt = f"chain{i+1}" if i < 65 else "end"
    d.gates[f"chain{i:02}".replace(f"{i:02}", str(i))] = spec("feature_gate", f"ch{i}", [rule(f"ch{i}", [d.c(type_="pass_gate", target=nxt)])])
d.gates["end"] = spec("feature_gate", "end", [rule("end", [d.c(type_="public")])])
d.gates["cycle_a"] = spec("feature_gate", "ca", [rule("ca", [d.c(type_="pass_gate", target="cycle_b")])])
d.gates["cycle_b"] = spec("feature_gate", "cb", [rule("cb", [d.c(type_="fail_gate", target="cycle_a")])])
d.layers["layer_cycle"] = spec("layer", "lc", [rule("lc", [d.c(type_="pass_gate", target="cycle_a")], ret={"x": 1})], default={"x": 0})
d.configs["exp_deep"] = spec("experiment", "ed", [rule("ed", [d.c(type_="pass_gate", target="chain0")], ret={"y": 1})], default={"y": 0}, isActive=True)
# Conditions missing from condition_map (no v1 equivalent: v1 conditions are inline).
d.gates["missing_cond_first"] = spec("feature_gate", "m", [rule("m1", ["nope", d.c(type_="public")])])
d.gates["missing_cond_last"] = spec("feature_gate", "m", [rule("m1", [d.c(type_="public"), "nope"])])
depth = d.v2()
write("depth_limits", depth, [{"userID": "a"}, {"userID": "b", "email": "x@y.z"}, {}])
write("operators_v1", v1(ops), same_as="operators")

# ---- case 2: experiments and layers ----
p = P()
p.gates["holdout"] = spec("holdout", "h", [rule("hold:10.00:1", [p.c(type_="public")], pct=10, salt="hold-salt")])
p.gates["targeting"] = spec("feature_gate", "t", [rule("t1", [p.c(type_="user_field", op="any", target=["NZ", "US"], field="country")])])
alloc = {str(b): True for b in range(0, 600)}
def exp(name, salt, layer_salt, groups, active=True, targeting=False, holdout=False, id_type="userID", extra=None):
    rules = []
    if holdout:
        rules.append(rule("holdout-rule", [p.c(type_="pass_gate", target="holdout", id_type=id_type)], ret={}, id_type=id_type))
    rules.append(rule("layerAssignment", [p.c(type_="user_bucket", op="none", target=alloc, salt=layer_salt, id_type=id_type)], ret={"p": "default"}, id_type=id_type))
    if targeting:
        rules.append(rule("targetingGate", [p.c(type_="fail_gate", target="targeting", id_type=id_type)], ret={"p": "default"}, id_type=id_type))
    bound = 0
    for gname, share, val in groups:
        bound += share
        rules.append(rule(f"{name}-{gname}", [p.c(type_="user_bucket", op="lt", target=bound, salt=salt, id_type=id_type)], ret=val, id_type=id_type, groupName=gname, isExperimentGroup=True))
    s = spec("experiment", salt, rules, default={"p": "default"}, id_type=id_type, isActive=active, hasSharedParams=True, explicitParameters=["p"])
    if extra: s.update(extra)
    p.configs[name] = s
exp("exp_ab", "ab-salt", "layer-salt", [("Control", 500, {"p": "control"}), ("Test", 500, {"p": "test"})])
exp("exp_targeted", "tg-salt", "layer-salt", [("Control", 300, {"p": "c"}), ("A", 300, {"p": "a"}), ("B", 400, {"p": "b"})], targeting=True, holdout=True)
exp("exp_inactive", "in-salt", "layer2-salt", [("Control", 500, {"p": "c2"}), ("Test", 500, {"p": "t2"})], active=False)
exp("exp_company", "co-salt", "layer3-salt", [("Control", 500, {"p": "cc"}), ("Test", 500, {"p": "ct"})], id_type="companyID")
p.layers["layer_main"] = spec("layer", "layer-salt", [
    rule("experimentAssignment", [p.c(type_="user_bucket", op="any", target={str(b): True for b in range(0, 300)}, salt="layer-salt")], ret={"p": "layer"}, configDelegate="exp_ab"),
    rule("experimentAssignment2", [p.c(type_="user_bucket", op="any", target={str(b): True for b in range(300, 600)}, salt="layer-salt")], ret={"p": "layer"}, configDelegate="exp_targeted"),
    rule("toMissing", [p.c(type_="user_bucket", op="any", target={str(b): True for b in range(600, 700)}, salt="layer-salt")], ret={"p": "layer-missing"}, configDelegate="no_such_exp")],
    default={"p": "layer-default", "q": 1})
p.layers["layer_holdout_first"] = spec("layer", "layer2-salt", [
    rule("lh", [p.c(type_="pass_gate", target="holdout")], ret={"p": "held"}),
    rule("experimentAssignment", [p.c(type_="public")], ret={}, configDelegate="exp_inactive")], default={"p": "l2"})
p.layers["layer_company"] = spec("layer", "layer3-salt", [
    rule("experimentAssignment", [p.c(type_="public", id_type="companyID")], ret={}, configDelegate="exp_company", id_type="companyID")],
    default={"p": "l3"}, id_type="companyID")
p.layers["layer_empty"] = spec("layer", "le", [], default={"p": "empty"})
exps = p.v2()
users = []
for i in range(60):
    u = {"userID": f"user-{i * 7919}"}
    if i % 3: u["country"] = ["NZ", "DE", "US"][i % 3]
    if i % 4 == 0: u["customIDs"] = {"companyID": f"co-{i}"}
    if i % 4 == 1: u["customIDs"] = {"companyid": f"co-{i}"}
    users.append(u)
users.append({}); users.append({"customIDs": {"companyID": "x"}})
write("experiments_layers", exps, users)
write("experiments_layers_v1", v1(exps), same_as="experiments_layers")

# ---- case 3: multi-rule layers (useNewLayerEval, spec 4.7) ----
p = P()
p.gates["holdout"] = spec("holdout", "h", [rule("hold:20.00:1", [p.c(type_="public")], pct=20, salt="hold-salt")])
p.gates["gate_nz"] = spec("feature_gate", "gnz", [rule("gnz-r", [p.c(type_="user_field", op="any", target=["NZ"], field="country")])])
p.gates["gate_gold"] = spec("feature_gate", "gg", [rule("gg-r", [p.c(type_="user_field", op="any", target=["gold"], field="tier")])])
exp("exp_ab", "ab-salt", "layer-salt", [("Control", 500, {"p": "control", "k": 1}), ("Test", 500, {"p": "test", "k": 2})])
exp("exp_targeted", "tg-salt", "layer-salt", [("Control", 500, {"p": "c"}), ("Test", 500, {"p": "t"})], targeting=True, holdout=True)
exp("exp_inactive", "in-salt", "layer-salt", [("Control", 500, {"p": "c2"}), ("Test", 500, {"p": "t2"})], active=False)
p.configs["exp_bool"] = spec("experiment", "eb", [rule("eb-r", [p.c(type_="pass_gate", target="gate_gold")], ret=True, groupName="G", isExperimentGroup=True)], default={"p": "eb-default"}, isActive=True)
p.configs["exp_unsupported"] = spec("experiment", "eu", [rule("eu-r", [p.c(type_="pass_gate", target="gate_nz"), p.c(type_="mystery")], ret={"p": "eu"})], default={"p": "eu-default"}, isActive=True)
def bucket(lo, hi, salt="layer-salt"):
    return p.c(type_="user_bucket", op="any", target={str(b): True for b in range(lo, hi)}, salt=salt)
NL = {"useNewLayerEval": True}
p.layers["nl_overlap"] = spec("layer", "nlo", [
    rule("r_nz", [p.c(type_="pass_gate", target="gate_nz")], ret={"a": "r_nz", "b": "r_nz"}),
    rule("r_gold", [p.c(type_="user_field", op="any", target=["gold"], field="tier")], ret={"b": "r_gold", "c": "r_gold"}),
    rule("r_half", [p.c(type_="public")], pct=50, ret={"d": "r_half", "a": "r_half"}),
    rule("r_false", [p.c(type_="fail_gate", target="gate_gold")], ret=False),
    rule("r_never", [p.c(type_="public")], pct=0, ret={"z": "never"})],
    default={"a": "default", "e": "default", "d": "default"}, **NL)
p.layers["nl_delegate"] = spec("layer", "layer-salt", [
    rule("holdout-rule", [p.c(type_="pass_gate", target="holdout")], ret={"h": "held"}),
    rule("experimentAssignment", [bucket(0, 300)], ret={"p": "layer"}, configDelegate="exp_ab", isExperimentGroup=True),
    rule("experimentAssignment2", [bucket(300, 500)], ret={"p": "layer"}, configDelegate="exp_targeted"),
    rule("experimentAssignment3", [bucket(500, 600)], ret={"p": "layer"}, configDelegate="exp_inactive"),
    rule("toMissing", [bucket(600, 800)], ret={"p": "missing", "m": 1}, configDelegate="no_such_exp"),
    rule("lateDelegate", [p.c(type_="pass_gate", target="gate_nz")], ret={}, configDelegate="exp_targeted"),
    rule("extra", [p.c(type_="fail_gate", target="gate_gold")], ret={"p": "extra", "x": "extra"}),
    rule("half", [p.c(type_="public")], pct=40, ret={"y": "half", "k": 99})],
    default={"p": "default", "q": "default"}, **NL)
p.layers["nl_last_delegate_skipped"] = spec("layer", "nls", [
    rule("first", [p.c(type_="public")], ret={"a": 1}),
    rule("skipped", [p.c(type_="public")], ret={}, configDelegate="exp_targeted")],
    default={"b": 2}, **NL)
p.layers["nl_bool_delegate"] = spec("layer", "nlb", [
    rule("toBool", [p.c(type_="public")], ret={}, configDelegate="exp_bool"),
    rule("after", [p.c(type_="public")], ret={"p": "after"})],
    default={"p": "default", "r": 0}, **NL)
p.layers["nl_unsupported"] = spec("layer", "nlu", [
    rule("first", [p.c(type_="pass_gate", target="gate_gold")], ret={"a": 1}),
    rule("toUnsupported", [p.c(type_="pass_gate", target="gate_nz")], ret={}, configDelegate="exp_unsupported"),
    rule("third", [p.c(type_="public")], ret={"c": 3})],
    default={"a": 0}, **NL)
p.layers["nl_unsupported_rule"] = spec("layer", "nlr", [
    rule("first", [p.c(type_="pass_gate", target="gate_nz")], ret={"a": 1}),
    rule("broken", [p.c(type_="public"), p.c(type_="quantum")], ret={"b": 1})],
    default={"a": 0}, **NL)
p.layers["nl_empty"] = spec("layer", "nle", [], default={"k": "v"}, **NL)
p.layers["nl_disabled_flag"] = spec("layer", "nld", [
    rule("r1", [p.c(type_="public")], ret={"a": 1}), rule("r2", [p.c(type_="public")], ret={"a": 2, "b": 2})],
    default={"c": 3}, useNewLayerEval=False)
newlayers = p.v2()
users = []
for i in range(80):
    u = {"userID": f"nl-{i * 7919}"}
    if i % 3: u["country"] = ["NZ", "DE", "US"][i % 3]
    if i % 4 == 0: u["custom"] = {"tier": "gold"}
    users.append(u)
users.append({}); users.append({"country": "NZ", "custom": {"tier": "gold"}})
write("layers_new_eval", newlayers, users)
write("layers_new_eval_v1", v1(newlayers), same_as="layers_new_eval")

# ---- case 4: config mapping (overrides / override_rules, spec 4.10) ----
p = P()
PAST, FUTURE = 1000000000000, 4102444800000
p.gates["gate_nz"] = spec("feature_gate", "gnz", [rule("gnz-r", [p.c(type_="user_field", op="any", target=["NZ"], field="country")])])
p.gates["g_orig"] = spec("feature_gate", "g-orig-salt", [rule("g-orig-r", [p.c(type_="user_field", op="any", target=["DE"], field="country")])])
p.gates["g_target"] = spec("feature_gate", "g-target-salt", [rule("g-target-r", [p.c(type_="pass_gate", target="gate_nz")], pct=50)])
p.gates["g_parent"] = spec("feature_gate", "gp", [rule("gp-r", [p.c(type_="pass_gate", target="g_orig")])])
for n in ["c_orig", "c_target", "c_target2", "c_future", "c_unknown_rule", "c_unknown_target", "c_chain", "c_unsupported_rule", "c_pct"]:
    p.configs[n] = spec("dynamic_config", n + "-salt", [
        rule(n + "-r", [p.c(type_="user_field", op="any", target=["US"], field="country")], ret={"from": n, "rule": "us"})],
        default={"from": n, "rule": "default"})
exp("e_orig", "eo-salt", "layer-salt", [("Control", 500, {"p": "orig-c"}), ("Test", 500, {"p": "orig-t"})])
exp("e_target", "et-salt", "layer-salt", [("Control", 500, {"p": "target-c"}), ("Test", 500, {"p": "target-t"})])
p.layers["l_main"] = spec("layer", "layer-salt", [
    rule("experimentAssignment", [p.c(type_="public")], ret={}, configDelegate="e_orig")], default={"p": "l"})
p.layers["l_orig"] = spec("layer", "lo", [rule("lo-r", [p.c(type_="public")], ret={"l": "orig"})], default={"l": "d"})
p.layers["l_target"] = spec("layer", "lt", [rule("lt-r", [p.c(type_="pass_gate", target="gate_nz")], ret={"l": "target"})], default={"l": "td"})
cid = p.c
p.override_rules = {
    "all": rule("all_override", [cid(type_="public")]),
    "nz": rule("nz_override", [cid(type_="pass_gate", target="gate_nz")]),
    "half": rule("half_override", [cid(type_="public")], pct=50, salt="half-rule-salt"),
    "zero": rule("zero_override", [cid(type_="public")], pct=0),
    "stable_half": rule("stable_half_override", [cid(type_="public")], pct=30, id_type="stableID"),
    "unsupported": rule("unsupported_override", [cid(type_="public"), cid(type_="mystery")]),
}
def m(target, *entries):
    return {"new_config_name": target, "rules": [dict(rule_name=r, **({} if t is None else {"start_time": t})) for r, t in entries]}
p.overrides = {
    "g_orig": [m("g_target", ("nz", PAST))],
    "c_orig": [m("c_target", ("zero", PAST), ("half", PAST))],
    "c_future": [m("c_target", ("all", FUTURE)), m("c_target2", ("nz", None))],
    "c_unknown_rule": [m("c_target", ("no_such_rule", PAST), ("nz", PAST))],
    "c_unknown_target": [m("no_such_config", ("all", PAST), ("nz", PAST)), m("c_target2", ("all", PAST))],
    "c_chain": [m("c_orig", ("all", PAST))],
    "c_unsupported_rule": [m("c_target", ("unsupported", PAST)), m("c_target2", ("stable_half", PAST))],
    "c_pct": [m("c_target", ("all", FUTURE), ("stable_half", None))],
    "e_orig": [m("e_target", ("half", PAST))],
    "l_orig": [m("l_target", ("half", PAST))],
}
mapping = p.v2()
mapping["override_rules"] = p.override_rules
mapping["overrides"] = p.overrides
users = []
for i in range(80):
    u = {"userID": f"map-{i * 104729}"}
    if i % 4: u["country"] = ["NZ", "DE", "US"][i % 3]
    if i % 5 == 0: u["customIDs"] = {"stableID": f"st-{i}"}
    users.append(u)
users.append({}); users.append({"country": "NZ"})
write("config_mapping", mapping, users)
write("config_mapping_v1", v1(mapping), same_as="config_mapping")

# ---- case 5: the integer form of numbers at and beyond +-2^63 (spec 1.1), seen by before/after/on ----
# `f as i64` saturates and i64::MAX rounds to 2^63 as f64, so +2^63 (in any spelling) has the integer
# form i64::MAX and -2^63 the form i64::MIN; larger magnitudes have none. Field `t` is read by
# before/after (and gt/eq for reference); field `t_on` by `on`, which panics in the official core for
# i64::MIN, so users never put -2^63 there.
p = P()
g = p.gate1
BIG = 9000000000000000000
g("after_9e18", type_="user_field", op="after", target=BIG, field="t")
g("after_zero", type_="user_field", op="after", target=0, field="t")
g("before_neg_9e18", type_="user_field", op="before", target=-BIG, field="t")
g("before_zero", type_="user_field", op="before", target=0, field="t")
g("after_str_9e18", type_="user_field", op="after", target=str(BIG), field="t")
g("before_max_str", type_="user_field", op="before", target="9223372036854775807", field="t")
g("after_1e300", type_="user_field", op="after", target=1e300, field="t")
g("before_1e300", type_="user_field", op="before", target=1e300, field="t")
g("on_1e300", type_="user_field", op="on", target=1e300, field="t_on")
g("on_max_str", type_="user_field", op="on", target="9223372036854775807", field="t_on")
g("on_9e18", type_="user_field", op="on", target=BIG, field="t_on")
g("gt_9e18", type_="user_field", op="gt", target=BIG, field="t")
g("eq_2p63", type_="user_field", op="eq", target=2**63, field="t")
MIN_LIKE = {-(2**63), -(2**63) - 1, -9.223372036854776e18}
values = [2**63, 9.223372036854776e18, Raw("9223372036854775808.0"), Raw("9.223372036854775807e18"),
          2**63 + 1, 2**63 + 1024, 2**63 + 1025, 2**63 - 1, 9.223372036854775e18, 2**64 - 1, 2**64, 1e19, 1e300,
          -(2**63), -(2**63) - 1, -9.223372036854776e18, Raw("-9223372036854775808.0"), -(2**63) + 1, -1e19,
          "9223372036854775807", "9223372036854775808", "-9223372036854775808", "9.223372036854776e18",
          0, -0.0, Raw("-0"), 1700000000, 1.5, None]
users = []
for i, v in enumerate(values):
    u = {"userID": f"i-{i}", "custom": {"t": v}}
    min_like = (isinstance(v, (int, float)) and float(v) == -(2.0**63)) or v == "-9223372036854775808" \
        or (isinstance(v, Raw) and float(v.text) == -(2.0**63))
    if not min_like:
        u["custom"]["t_on"] = v
    users.append(u)
users.append({})
write("integer_form", p.v2(), users)

# ---- case 6: array_contains_* with user elements that have no string form (spec 6.8) ----
# null and object elements stand in the user's set as a value no target element matches, not even "";
# a user element that is the string "" does match "". Nested arrays match through their JSON text.
p = P()
TARGETS = {"empty": [""], "empty_a": ["", "a"], "a": ["a"], "null_text": ["null"], "obj_text": ["{}"],
           "arr_text": ["[]"], "none": [], "null_arr_text": ["[null]"], "null_elem": [None], "obj_elem": [{}],
           "a_upper": ["A"]}
for op in ["array_contains_any", "array_contains_none", "array_contains_all", "not_array_contains_all"]:
    for tn, t in TARGETS.items():
        p.gate1(f"{op}__{tn}", type_="user_field", op=op, target=t, field="tags")
user_arrays = [[None], [{}], [{"a": 1}], [None, ""], ["", None], [""], [], [[]], [None, "a"], [{}, "a"], [True],
               [1], [1.0], ["null"], ["{}"], [[None]], [None, None], [{"a": None}, None], ["a", ""], ["A"],
               "", None, {"a": ""}, "[null]"]
users = [{"userID": f"a-{i}", "custom": {"tags": v}} for i, v in enumerate(user_arrays)] + [{}]
write("array_elements_without_string_form", p.v2(), users)
