"""flagcore from Python: load a payload, check gates, read an experiment and a config,
override a gate. Run from the repository root:

    python flagcore-python/examples/quickstart.py
"""

from __future__ import annotations

from pathlib import Path

import flagcore

PAYLOAD = Path(__file__).resolve().parents[2] / "examples" / "data" / "demo.json"


def main() -> None:
    store = flagcore.Store()
    store.load_json(PAYLOAD.read_bytes())
    print(f"loaded ruleset of time {store.ruleset_time} ({len(store.gate_names())} gates)")

    users = [
        flagcore.User("ana", email="ana@acme.com"),
        flagcore.User("bo", email="bo@example.org", country="NZ"),
        flagcore.User.from_dict({"userID": "dev-7", "custom": {"plan": "pro"}, "country": "US"}),
    ]
    for user in users:
        print(f"user {user.user_id}")
        for gate in ["team_dogfood", "new_checkout", "payments_enabled"]:
            result = store.get_feature_gate(user, gate)
            print(f"  gate {gate:<18} {result.value!s:<5} (rule {result.rule_id})")
        experiment = store.get_experiment(user, "checkout_button")
        color: str = experiment.get_string("color", "grey")
        print(f"  experiment checkout_button: group {experiment.group_name}, color {color}")
        pricing = store.get_dynamic_config(user, "pricing")
        discount: float = pricing.get_float("discount", 0.0)
        print(f"  pricing: {pricing.get_string('currency', 'USD')}, discount {discount}")

    # A kill switch: force a gate off for everyone, then back.
    store.override_gate("payments_enabled", False)
    assert not store.check_gate(users[0], "payments_enabled")
    store.remove_gate_override("payments_enabled")

    try:
        store.load_json(b"{not json")
    except flagcore.LoadError as e:
        print(f"rejected a broken payload ({e}); still serving time {store.ruleset_time}")


if __name__ == "__main__":
    main()
