"""The sidecar from a stock OFREP client: OpenFeature's Python SDK and its OFREP provider
(from PyPI) ask `flagcore serve` for every entity of the conformance corpus, for every
corpus user, and the answers must agree with the official Statsig core's (the corpus's
expected.jsonl.xz): value, rule id, group name and allocated experiment.

Secondary exposures are not part of an OFREP answer (the sidecar logs them with the
exposures), so they are not compared.

Environment:
  FLAGCORE_SERVE  the command that starts the sidecar (default: `flagcore serve`, the debug
                  build of flagcore-cli); it gets `--listen 127.0.0.1:0 --file DCS`
                  [--environment TIER] and must print `listening on http://ADDR` on stderr.
  OFREP_SAMPLE    every N-th user only (default 1: the whole corpus).
"""

import json
import lzma
import os
import pathlib
import re
import shlex
import subprocess
import sys
import time

import pytest
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext

ROOT = pathlib.Path(__file__).resolve().parents[3]
# Values compare as the corpus's own compare.py compares them (numbers by value).
sys.path.insert(0, str(ROOT / "conformance"))
from compare import norm  # noqa: E402
FIXTURES = ROOT / "conformance" / "fixtures"
SERVE = shlex.split(
    os.environ.get("FLAGCORE_SERVE", f"{ROOT / 'target' / 'debug' / 'flagcore'} serve")
)
SAMPLE = int(os.environ.get("OFREP_SAMPLE", "1"))

# Context keys the mapping reads as user fields: a custom attribute of such a name stays
# inside a `custom` object, every other custom attribute goes top-level (the plain
# OpenFeature way).
RESERVED = {"targetingKey", "userID", "email", "ip", "userAgent", "country", "locale",
            "appVersion", "customIDs", "stableID", "custom", "privateAttributes",
            "statsigEnvironment"}


def context(user):
    """A corpus user (Statsig's JSON) as an OpenFeature evaluation context."""
    attrs = {k: v for k, v in user.items() if k not in ("userID", "custom")}
    custom = dict(user.get("custom") or {})
    inner = {k: v for k, v in custom.items() if k in RESERVED}
    attrs.update({k: v for k, v in custom.items() if k not in RESERVED})
    if inner or ("custom" in user and not custom):
        attrs["custom"] = inner
    return EvaluationContext(targeting_key=user.get("userID"), attributes=attrs)


@pytest.fixture
def sidecar(request):
    """Starts the sidecar on a free port for one fixture; yields its base URL."""
    fixture = request.param
    args = SERVE + ["--listen", "127.0.0.1:0", "--file", str(fixture / "dcs.json"),
                    "--exposures", "off"]
    env_file = fixture / "environment"
    if env_file.exists():
        args += ["--environment", env_file.read_text().strip()]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        m = re.search(r"listening on (http://\S+)", line)
        assert m, f"the sidecar did not start: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        yield m.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


FIXTURE_DIRS = sorted(p for p in FIXTURES.iterdir() if (p / "expected.jsonl.xz").exists())


@pytest.mark.parametrize("sidecar", FIXTURE_DIRS, ids=[p.name for p in FIXTURE_DIRS],
                         indirect=True)
def test_answers_agree_with_the_official_core(sidecar, request):
    fixture = request.node.callspec.params["sidecar"]
    users = [json.loads(l) for l in (fixture / "users.jsonl").read_text().splitlines() if l]
    with lzma.open(fixture / "expected.jsonl.xz", "rt") as f:
        expected = [json.loads(l) for l in f if l.strip()]
    expected = [e for e in expected if e["u"] % SAMPLE == 0]
    assert expected, "no expected answers"

    api.set_provider(OFREPProvider(sidecar))
    client = api.get_client()
    contexts = {}
    bad = []
    started = time.monotonic()
    for exp in expected:
        u = exp["u"]
        ctx = contexts.get(u) or contexts.setdefault(u, context(users[u]))
        key = f"{exp['kind']}:{exp['name']}"
        if exp["kind"] == "gate":
            d = client.get_boolean_details(key, not exp["value"], ctx)
        else:
            d = client.get_object_details(key, {"not": "evaluated"}, ctx)
        meta = d.flag_metadata or {}
        got = {
            "error": d.error_code,
            "value": norm(d.value),
            "rule_id": meta.get("ruleId"),
            "group_name": meta.get("groupName"),
            "allocated_experiment": meta.get("allocatedExperiment"),
            "variant": d.variant,
            "kind": meta.get("kind"),
        }
        want = {
            "error": None,
            "value": norm(exp["value"]),
            "rule_id": exp["rule_id"],
            "group_name": exp["group_name"],
            "allocated_experiment": exp["allocated_experiment"],
            "variant": exp["group_name"] or exp["rule_id"],
            "kind": exp["kind"],
        }
        if got != want:
            bad.append((u, key, {k: (want[k], got[k]) for k in want if want[k] != got[k]}))
    elapsed = time.monotonic() - started
    agree = len(expected) - len(bad)
    print(f"\n{fixture.name}: {agree}/{len(expected)} OFREP answers agree "
          f"({len(expected) / elapsed:.0f} evaluations/s through the Python SDK)")
    assert not bad, f"{len(bad)} disagree, e.g. {bad[:3]}"
