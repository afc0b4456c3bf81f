"""flagcore.Statsig: background sources (a file, Statsig's API on a loopback server),
exposure logging to a loopback server, fork safety."""

from __future__ import annotations

import gzip
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

import flagcore
from support import config, gate, payload, write_atomically

ON = payload([gate("flip")], [config("cfg", {"n": 1})], time=1)
OFF = payload([gate("flip", enabled=False)], [config("cfg", {"n": 2})], time=2)


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    """Polls ``condition`` until it holds or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class Server:
    """A real HTTP server on 127.0.0.1: serves a dcs payload and records log_event posts."""

    def __init__(self) -> None:
        self.specs = ON
        self.posts: List[Tuple[str, Dict[str, str], Any]] = []
        self.spec_requests: List[Tuple[str, Dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                outer.spec_requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                self._answer(outer.specs)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                outer.posts.append((self.path, dict(self.headers), json.loads(body)))
                self._answer(b'{"success": true}')

            def _answer(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> List[Dict[str, Any]]:
        return [e for _, _, body in self.posts for e in body["events"]]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def test_file_source_follows_the_file(tmp_path: Path) -> None:
    path = tmp_path / "dcs.json"
    write_atomically(path, ON)
    statsig = flagcore.Statsig(path=path, poll_interval=0.02, log_exposures=False)
    details = statsig.initialize(timeout=10)
    try:
        assert (details.source, details.ready, details.error) == ("file", True, None)
        assert statsig.is_running
        user = flagcore.User("u1")
        assert statsig.check_gate(user, "flip")
        write_atomically(path, OFF)
        assert wait_for(lambda: not statsig.check_gate(user, "flip")), "the flipped file never loaded"
        assert statsig.get_dynamic_config(user, "cfg").get_int("n", 0) == 2
    finally:
        statsig.shutdown()
    assert not statsig.is_running


def test_network_source_and_exposures_reach_a_loopback_server(server: Server, tmp_path: Path) -> None:
    statsig = flagcore.Statsig(
        "secret-test",
        specs_url=f"{server.url}/v2/download_config_specs",
        log_event_url=f"{server.url}/v1/log_event",
        poll_interval=60,
    )
    details = statsig.initialize(timeout=10)
    assert (details.source, details.ready) == ("network", True), details
    path, headers = server.spec_requests[0]
    assert path.startswith("/v2/download_config_specs/secret-test.json")
    assert headers.get("statsig-api-key") == "secret-test"
    user = flagcore.User("ana", email="ana@example.com", private_attributes={"secret": "x"})
    assert statsig.check_gate(user, "flip")
    assert statsig.get_dynamic_config(user, "cfg").get_int("n", 0) == 1
    assert not statsig.check_gate(user, "flip_unknown")
    assert statsig.check_gate(user, "flip", log_exposure=False)
    statsig.shutdown(timeout=10)
    events = server.events()
    gates = [e for e in events if e["eventName"] == "statsig::gate_exposure"]
    configs = [e for e in events if e["eventName"] == "statsig::config_exposure"]
    assert {e["metadata"]["gate"] for e in gates} == {"flip", "flip_unknown"}
    flip = next(e for e in gates if e["metadata"]["gate"] == "flip")
    assert flip["metadata"]["gateValue"] == "true" and flip["metadata"]["ruleID"] == "everyone"
    assert flip["user"]["userID"] == "ana" and "privateAttributes" not in flip["user"]
    assert [e["metadata"]["config"] for e in configs] == ["cfg"]
    # As the official core does, the check that did not log is counted in a summary.
    checks = [e for e in events if e["eventName"] == "statsig::non_exposed_checks"]
    assert [json.loads(e["metadata"]["checks"]) for e in checks] == [{"flip": 1}]
    assert statsig.exposure_stats()["sent"] == len(events) == 4
    assert all(p == "/v1/log_event" for p, _, _ in server.posts)


def test_custom_events_reach_a_loopback_server(server: Server) -> None:
    statsig = flagcore.Statsig(
        "secret-test",
        specs_url=f"{server.url}/v2/download_config_specs",
        log_event_url=f"{server.url}/v1/log_event",
        poll_interval=60,
        log_exposures=False,
    )
    user = flagcore.User("ana", email="ana@example.com", private_attributes={"secret": "x"})
    with pytest.raises(RuntimeError, match="no event logger"):
        statsig.log_event(user, "too_early")
    statsig.initialize(timeout=10)
    assert statsig.check_gate(user, "flip")  # no exposure: log_exposures=False
    statsig.log_event(user, "purchase", 9.99, {"sku": "A-1", "qty": 2, "gift": True})
    statsig.log_event(user, "purchase", 9.99, {"sku": "A-1", "qty": 2, "gift": True})
    statsig.log_event(user, "search", "shoes")
    statsig.log_event(user, "login", 3)
    statsig.log_event(user, "logout")
    with pytest.raises(TypeError, match="not a bool"):
        statsig.log_event(user, "bad", True)
    with pytest.raises(TypeError, match="str or a number"):
        statsig.log_event(user, "bad", [1])
    statsig.shutdown(timeout=10)
    events = server.events()
    assert [e["eventName"] for e in events] == ["purchase", "purchase", "search", "login", "logout"]
    purchase = events[0]
    assert purchase["value"] == 9.99
    assert purchase["metadata"] == {"sku": "A-1", "qty": 2, "gift": True}
    assert purchase["user"]["userID"] == "ana" and "privateAttributes" not in purchase["user"]
    assert events[2]["value"] == "shoes" and events[3]["value"] == 3.0
    assert events[4].get("value") is None and events[4].get("metadata") is None
    # After shutdown, as exposures: dropped and counted.
    dropped = statsig.exposure_stats()["dropped_shut_down"]
    statsig.log_event(user, "too_late")
    assert statsig.exposure_stats()["dropped_shut_down"] == dropped + 1


def test_layer_parameter_reads_log_layer_exposures(server: Server, tmp_path: Path) -> None:
    layer = {"name": "lay", "type": "dynamic_config", "entity": "layer", "salt": "lay",
             "enabled": True, "defaultValue": {"p": "x", "q": 2}, "idType": "userID",
             "rules": []}
    path = tmp_path / "dcs.json"
    write_atomically(path, payload([gate("flip")], layers=[layer]))
    statsig = flagcore.Statsig("secret-test", path=path,
                               log_event_url=f"{server.url}/v1/log_event")
    assert statsig.initialize(timeout=10).source == "file"
    lay = statsig.get_layer(flagcore.User("bob"), "lay")
    assert lay.get_string("p", "") == "x"
    assert lay.get_string("q", "fallback") == "fallback"  # wrong type: no exposure
    assert lay.get("missing") is None  # missing: no exposure
    unlogged = statsig.get_layer(flagcore.User("bob"), "lay", log_exposure=False)
    assert unlogged.get_int("q", 0) == 2
    statsig.shutdown(timeout=10)
    layers = [e for e in server.events() if e["eventName"] == "statsig::layer_exposure"]
    assert [(e["metadata"]["config"], e["metadata"]["parameterName"]) for e in layers] == [("lay", "p")]
    assert layers[0]["user"]["userID"] == "bob"


def test_bootstrap_only_serves_at_once() -> None:
    statsig = flagcore.Statsig(bootstrap=ON)
    details = statsig.initialize()
    assert (details.source, details.ready) == ("bootstrap", True)
    assert statsig.check_gate(flagcore.User("u1"), "flip")
    statsig.shutdown()
    with pytest.raises(flagcore.LoadError):
        flagcore.Statsig(bootstrap=b"not json").initialize()
    with pytest.raises(ValueError, match="server_secret"):
        flagcore.Statsig()


def test_bootstrap_then_network_failure_keeps_bootstrap(server: Server) -> None:
    server.close()  # nothing listens there any more
    statsig = flagcore.Statsig("secret-test", bootstrap=ON, specs_url=f"{server.url}/v2/dcs",
                               log_exposures=False)
    details = statsig.initialize(timeout=2)
    assert (details.source, details.ready) == ("bootstrap", True)
    assert details.error
    assert statsig.check_gate(flagcore.User("u1"), "flip")
    statsig.shutdown()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_forked_child_gets_working_background_threads(tmp_path: Path) -> None:
    path = tmp_path / "dcs.json"
    write_atomically(path, ON)
    statsig = flagcore.Statsig(path=path, poll_interval=0.02, log_exposures=False)
    assert statsig.initialize(timeout=10).source == "file"
    user = flagcore.User("u1")
    assert statsig.check_gate(user, "flip")
    # The parent stops watching, so only the child's own (restarted) watcher can see the
    # change the child makes.
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status, never return into pytest
        code = 3
        try:
            if not statsig.is_running:
                code = 4
            elif statsig.check_gate(user, "flip"):  # the inherited ruleset serves at once
                write_atomically(path, OFF)
                code = 0 if wait_for(lambda: not statsig.check_gate(user, "flip")) else 1
            else:
                code = 2
            statsig.shutdown()
        finally:
            os._exit(code)
    statsig.shutdown()
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status), status
    meaning = {0: "ok", 1: "the child never saw the flipped file (frozen ruleset)",
               2: "the child lost the ruleset", 3: "the child raised", 4: "not running in the child"}
    code = os.WEXITSTATUS(status)
    assert code == 0, meaning.get(code, code)
