"""flagcore: Statsig feature gates, dynamic configs, experiments and layers, evaluated
in-process by the flagcore engine, with the same answers as Statsig's official SDKs.

>>> import flagcore
>>> store = flagcore.Store()
>>> store.load_json(open("dcs.json", "rb").read())          # doctest: +SKIP
>>> user = flagcore.User("user-42", email="ana@example.com")
>>> store.check_gate(user, "new_checkout")                   # doctest: +SKIP
True

``Store`` evaluates a payload you load; ``Statsig`` keeps one fresh in the background
(Statsig's API or a file) and logs exposures.
"""

from __future__ import annotations

import atexit
import os

from ._flagcore import (
    DynamicConfig,
    EvaluationDetails,
    Experiment,
    FeatureGate,
    InitializeDetails,
    Layer,
    LoadError,
    Statsig,
    Store,
    User,
    _after_fork_in_child,
    _shutdown_all,
)

__all__ = [
    "DynamicConfig",
    "EvaluationDetails",
    "Experiment",
    "FeatureGate",
    "InitializeDetails",
    "Layer",
    "LoadError",
    "Statsig",
    "Store",
    "User",
]

# A forked child has none of the parent's threads: every running Statsig starts its
# background sources and exposure logger again there (the inherited ruleset serves
# meanwhile). Exposures still queued in the parent at the fork stay the parent's.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

# Flush exposures at exit.
atexit.register(_shutdown_all)
