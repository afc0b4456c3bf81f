"""The Python API: users, results and typed getters, overrides, errors."""

from __future__ import annotations

import json

import pytest

import flagcore
from support import config, gate, payload

PARAMS = {"s": "blue", "i": 7, "f": 2.5, "b": True, "a": [1, "x"], "o": {"k": 1}, "n": None,
          "big": 18446744073709551615, "whole": 3.0}


@pytest.fixture()
def store() -> flagcore.Store:
    s = flagcore.Store()
    exp_rule = {"id": "exp_rule", "name": "exp_rule", "passPercentage": 100,
                "conditions": ["public"], "returnValue": {"color": "green"}, "idType": "userID",
                "salt": "exp_rule", "groupName": "Test", "isExperimentGroup": True}
    s.load_json(payload(
        [gate("on"), gate("off", enabled=False)],
        [config("params", PARAMS),
         config("exp", {"color": "red"}, entity="experiment", rules=[exp_rule])],
    ))
    return s


def test_user_keywords_and_dict_agree() -> None:
    kw = flagcore.User("u1", email="a@b.c", ip="1.2.3.4", user_agent="ua", country="GB",
                       locale="en_GB", app_version="1.2.3", custom={"plan": "pro", "n": [1, 2]},
                       private_attributes={"secret": 1}, custom_ids={"stableID": "s1"},
                       statsig_environment={"tier": "staging"})
    d = {"userID": "u1", "email": "a@b.c", "ip": "1.2.3.4", "userAgent": "ua", "country": "GB",
         "locale": "en_GB", "appVersion": "1.2.3", "custom": {"plan": "pro", "n": [1, 2]},
         "privateAttributes": {"secret": 1}, "customIDs": {"stableID": "s1"},
         "statsigEnvironment": {"tier": "staging"}}
    assert kw == flagcore.User.from_dict(d)
    assert kw == flagcore.User.from_json(json.dumps(d))
    assert kw.to_dict() == d
    assert kw.user_id == "u1" and kw.custom == {"plan": "pro", "n": [1, 2]}
    assert flagcore.User().to_dict() == {}


def test_user_rejects_what_is_not_json() -> None:
    with pytest.raises(TypeError):
        flagcore.User("u1", custom={"when": object()})
    with pytest.raises(TypeError):
        flagcore.User("u1", custom={1: "x"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="not a Statsig user"):
        flagcore.User.from_dict({"custom": [1, 2]})
    with pytest.raises(ValueError, match="NaN"):
        flagcore.User("u1", custom={"x": float("nan")})


def test_gate_results(store: flagcore.Store) -> None:
    user = flagcore.User("u1")
    assert store.check_gate(user, "on") is True
    assert store.check_gate(user, "off") is False
    g = store.get_feature_gate(user, "on")
    assert (g.name, g.value, g.rule_id, g.id_type, g.reason) == ("on", True, "everyone", "userID", "Recognized")
    assert bool(g) and g.group_name is None and g.secondary_exposures == []
    assert g.details.reason == "Recognized" and g.details.lcut == 1764000000000
    off = store.get_feature_gate(user, "off")
    assert (off.value, off.rule_id) == (False, "disabled")
    missing = store.get_feature_gate(user, "nope")
    assert (missing.value, missing.rule_id, missing.reason) == (False, "", "Unrecognized")


def test_no_ruleset_gives_defaults() -> None:
    s = flagcore.Store()
    user = flagcore.User("u1")
    assert s.ruleset_time is None
    assert s.check_gate(user, "on") is False
    c = s.get_dynamic_config(user, "params")
    assert (c.value, c.reason, c.details.lcut) == ({}, "NoValues", None)


def test_typed_getters_follow_statsigs_fallback_rules(store: flagcore.Store) -> None:
    c = store.get_dynamic_config(flagcore.User("u1"), "params")
    assert c.value == PARAMS and c.rule_id == "default"
    assert c.get_string("s", "x") == "blue" and c.get_string("i", "x") == "x"
    assert c.get_int("i", 0) == 7 and c.get_integer("i", 0) == 7
    assert c.get_int("f", 0) == 0 and c.get_int("b", 0) == 0 and c.get_int("whole", 0) == 0
    assert c.get_int("big", 0) == 18446744073709551615
    assert c.get_float("f", 0.0) == 2.5 and c.get_float("i", 0.0) == 7.0
    assert isinstance(c.get_float("i", 0.0), float)
    assert c.get_float("s", 1.5) == 1.5 and c.get_float("b", 1.5) == 1.5
    assert c.get_bool("b", False) is True and c.get_bool("s", False) is False
    assert c.get_array("a", []) == [1, "x"] and c.get_array("o", []) == []
    assert c.get_object("o", {}) == {"k": 1} and c.get_object("a", {}) == {}
    for getter, fallback in [(c.get_string, "fb"), (c.get_int, 5), (c.get_float, 5.5),
                             (c.get_bool, True), (c.get_array, [9]), (c.get_object, {"z": 0})]:
        assert getter("missing", fallback) == fallback  # type: ignore[operator]
        assert getter("n", fallback) == fallback  # type: ignore[operator]
    # get(): the parameter unless the fallback is of another type (None takes anything).
    assert c.get("s") == "blue" and c.get("s", "x") == "blue" and c.get("s", 1) == 1
    assert c.get("missing") is None and c.get("missing", 3) == 3 and c.get("n", 3) == 3
    assert c.get("i", 1.0) == 1.0 and c.get("o", {}) == {"k": 1}
    assert "s" in c and "missing" not in c and sorted(c.keys()) == sorted(PARAMS)
    # The value is a copy: changing it changes nothing.
    c.value["s"] = "changed"
    assert c.get_string("s", "") == "blue"


def test_experiment_result(store: flagcore.Store) -> None:
    e = store.get_experiment(flagcore.User("u1"), "exp")
    assert (e.rule_id, e.group_name, e.value) == ("exp_rule", "Test", {"color": "green"})
    assert e.is_user_in_experiment and e.is_experiment_active and not e.is_in_layer
    assert e.get_string("color", "") == "green"


def test_overrides(store: flagcore.Store) -> None:
    ana, bob = flagcore.User("ana"), flagcore.User("bob")
    store.override_gate("off", True)
    store.override_gate("off", False, user_id="bob")
    assert store.check_gate(ana, "off") and not store.check_gate(bob, "off")
    g = store.get_feature_gate(ana, "off")
    assert (g.rule_id, g.reason) == ("override", "LocalOverride")
    store.override_dynamic_config("params", {"s": "over"})
    store.override_experiment("exp", {"color": "pink"}, user_id="ana")
    store.override_layer("a_layer", {"p": 1})
    assert store.get_dynamic_config(bob, "params").value == {"s": "over"}
    assert store.get_experiment(ana, "exp").get_string("color", "") == "pink"
    assert store.get_experiment(bob, "exp").get_string("color", "") == "green"
    assert store.get_layer(bob, "a_layer").get_int("p", 0) == 1
    store.remove_gate_override("off", user_id="bob")
    assert store.check_gate(bob, "off")
    store.remove_gate_override("off")
    assert not store.check_gate(ana, "off")
    store.remove_experiment_override("exp", user_id="ana")
    assert store.get_experiment(ana, "exp").get_string("color", "") == "green"
    store.remove_dynamic_config_override("params")
    assert store.get_dynamic_config(bob, "params").get_string("s", "") == "blue"
    store.override_gate("on", False)
    store.remove_layer_override("a_layer")
    assert store.get_layer(bob, "a_layer").reason == "Unrecognized"
    store.remove_all_overrides()
    assert store.check_gate(ana, "on")


def test_load_errors_keep_the_current_ruleset(store: flagcore.Store) -> None:
    user = flagcore.User("u1")
    with pytest.raises(flagcore.LoadError, match="not valid JSON"):
        store.load_json(b"<html>oops</html>")
    with pytest.raises(flagcore.LoadError, match="feature_gates") as info:
        store.load_json(b'{"feature_gates": 5, "dynamic_configs": {}, "layer_configs": {}, '
                        b'"has_updates": true, "time": 1}')
    assert isinstance(info.value, Exception)
    with pytest.raises(TypeError):
        store.load_json(123)  # type: ignore[arg-type]
    assert store.check_gate(user, "on")
    # str payloads load too.
    store.load_json(payload([gate("on", enabled=False)]).decode())
    assert not store.check_gate(user, "on")


def test_names(store: flagcore.Store) -> None:
    assert sorted(store.gate_names()) == ["off", "on"]
    assert store.dynamic_config_names() == ["params"]
    assert store.experiment_names() == ["exp"]
    assert store.layer_names() == []
