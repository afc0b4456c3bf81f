"""flagcore and Statsig's own Python binding (``statsig-python-core``), side by side, on
the same payloads and users, in one run:

    pip install ./flagcore-python statsig-python-core pytest-benchmark   # release build
    cd flagcore-python
    pytest benchmarks -k "not load" --benchmark-timer=time.thread_time --benchmark-group-by=group
    pytest benchmarks -k load --benchmark-group-by=group

Evaluations are timed in CPU time of the calling thread (``time.thread_time``), so that a
shared, busy machine does not count the time others had the CPU; loading is timed in wall
time (statsig-python-core loads on its own threads while the caller waits). The group
``baseline/dict.get`` times a builtin call with two arguments: the floor of a call from
Python on the machine at that moment.

Each group holds the two contenders: ``check_gate`` on a public gate (eval_proj
``test_public``) and on a 50% rollout (demo_proj ``partial_gate``), ``get_experiment`` plus
one parameter read (eval_proj ``test_exp_random_id_allocated``, an A/B test in a layer),
and loading a payload. The corpus has no ``perf_proj`` payload, so loading times
eval_proj's (432 kB): flagcore's ``Store.load_json`` against statsig-python-core's start-up
(``initialize().wait()``, then ``shutdown()``) from the same payload served by a loopback
HTTP server.
Exposure logging is off on both sides (``disable_all_logging`` / a plain ``Store``).
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest

import flagcore

import statsig_python_core as statsig_core

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("FLAGCORE_CONFORMANCE_DIR", REPO / "conformance")) / "fixtures"
USER = {"userID": "user-8152", "email": "user-8152@example.com", "custom": {"plan": "pro"},
        "customIDs": {"random_id": "user-8152"}}


def payload(name: str) -> bytes:
    return (FIXTURES / name / "dcs.json").read_bytes()


class SpecsServer:
    """Serves one payload to every GET on 127.0.0.1 (statsig-python-core's specs URL)."""

    def __init__(self, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v2/download_config_specs"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def start_statsig(server: SpecsServer) -> Any:
    options = statsig_core.StatsigOptions(
        specs_url=server.url, disable_all_logging=True, disable_country_lookup=True,
        specs_sync_interval_ms=3_600_000, output_log_level="none",
    )
    s = statsig_core.Statsig("secret-benchmark", options)
    s.initialize().wait()
    return s


@pytest.fixture(scope="module")
def contenders() -> Iterator[Dict[str, Any]]:
    out: Dict[str, Any] = {}
    servers = []
    for name in ["eval_proj", "demo_proj"]:
        store = flagcore.Store()
        store.load_json(payload(name))
        server = SpecsServer(payload(name))
        servers.append(server)
        out[f"flagcore/{name}"] = store
        out[f"statsig/{name}"] = start_statsig(server)
    out["flagcore/user"] = flagcore.User.from_dict(USER)
    out["statsig/user"] = statsig_core.StatsigUser(
        user_id=USER["userID"], email=USER["email"], custom=USER["custom"],
        custom_ids=USER["customIDs"])
    yield out
    for key in ["statsig/eval_proj", "statsig/demo_proj"]:
        out[key].shutdown().wait()
    for server in servers:
        server.close()


def bench(benchmark: Any, f: Callable[[], Any], expected: Any) -> None:
    """Times ``f`` (many calls per round: each call takes well under a microsecond)."""
    assert f() == expected
    benchmark.pedantic(f, rounds=2000, iterations=200, warmup_rounds=20)


CASES = [
    # (group, payload, gate): both contenders must agree on the answer.
    ("check_gate/public", "eval_proj", "test_public"),
    ("check_gate/rollout_50", "demo_proj", "partial_gate"),
]


@pytest.mark.parametrize("engine", ["flagcore", "statsig"])
@pytest.mark.parametrize("group,fixture,gate", CASES, ids=[c[0] for c in CASES])
def test_check_gate(benchmark: Any, contenders: Dict[str, Any], engine: str, group: str,
                    fixture: str, gate: str) -> None:
    benchmark.group = group
    store, user = contenders[f"{engine}/{fixture}"], contenders[f"{engine}/user"]
    expected = contenders[f"flagcore/{fixture}"].check_gate(contenders["flagcore/user"], gate)
    check = store.check_gate
    bench(benchmark, lambda: check(user, gate), expected)


def test_baseline_builtin_call(benchmark: Any) -> None:
    benchmark.group = "baseline/dict.get"
    d = {"test_public": True}
    get = d.get
    bench(benchmark, lambda: get("test_public", False), True)


@pytest.mark.parametrize("engine", ["flagcore", "statsig"])
def test_get_experiment_and_parameter(benchmark: Any, contenders: Dict[str, Any], engine: str) -> None:
    benchmark.group = "get_experiment+parameter"
    store, user = contenders[f"{engine}/eval_proj"], contenders[f"{engine}/user"]
    ours = contenders["flagcore/eval_proj"].get_experiment(contenders["flagcore/user"], "test_exp_random_id_allocated")
    expected = ours.get_string("string", "fallback")
    assert expected != "fallback", "the user should be in a group that sets `string`"
    get = store.get_experiment
    bench(benchmark, lambda: get(user, "test_exp_random_id_allocated").get_string("string", "fallback"), expected)


@pytest.mark.parametrize("engine", ["flagcore", "statsig"])
def test_load_eval_proj(benchmark: Any, engine: str) -> None:
    benchmark.group = "load/eval_proj"
    body = payload("eval_proj")
    assert json.loads(body)["feature_gates"]
    if engine == "flagcore":
        def load() -> Any:
            s = flagcore.Store()
            s.load_json(body)
            return s.check_gate(flagcore.User("u"), "test_public")
        benchmark.pedantic(load, rounds=30, iterations=1, warmup_rounds=2)
    else:
        server = SpecsServer(body)
        user = statsig_core.StatsigUser(user_id="u")

        def load() -> Any:
            s = start_statsig(server)
            on = s.check_gate(user, "test_public")
            s.shutdown().wait()
            return on
        benchmark.pedantic(load, rounds=30, iterations=1, warmup_rounds=2)
        server.close()
