"""flagcore.Statsig: a store kept fresh from a payload file, exposures appended to a
JSON-lines file with a custom event, a client initialize response, in a process that forks workers (as gunicorn does).

    python flagcore-python/examples/background_sync.py
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import flagcore

PAYLOAD = Path(__file__).resolve().parents[2] / "examples" / "data" / "demo.json"


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    flags = folder / "flags.json"
    shutil.copy(PAYLOAD, flags)
    statsig = flagcore.Statsig(path=flags, exposures_path=folder / "exposures.jsonl",
                               poll_interval=1.0, exposure_flush_interval=1.0)
    details: flagcore.InitializeDetails = statsig.initialize(timeout=3.0)
    print(f"serving from {details.source} after {details.duration:.3f} s")
    user = flagcore.User("ana", email="ana@acme.com")
    print("new_checkout:", statsig.check_gate(user, "new_checkout"))
    statsig.log_event(user, "purchase", 9.99, {"sku": "A-1"})  # a custom event
    bootstrap: str = statsig.get_client_initialize_response(user)  # for a client SDK
    print("client init response:", len(bootstrap), "bytes")
    if hasattr(os, "fork"):
        pid = os.fork()
        if pid == 0:
            # The child has its own background threads again; the ruleset keeps serving.
            print("child: running", statsig.is_running, statsig.check_gate(user, "new_checkout"))
            statsig.shutdown()
            os._exit(0)
        os.waitpid(pid, 0)
    statsig.shutdown(timeout=5.0)
    print("events:", (folder / "exposures.jsonl").read_text().count("\n"))
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
