#!/usr/bin/env python3
"""Differential sweep: many gen_random.py seeds through the official core and flagcore.

    python3 sweep.py --oracle PATH/statsig-oracle --evaluate target/release/examples/evaluate \\
        [--seeds 1000:2000] [--users 40] [--jobs 2] [--timeout 60] [--keep DIR] [--compare compare.py]

For each seed: generate a payload and users (gen_random.write_case, as gen_random.py SEED DIR USERS), answer them with the
reference evaluator (`statsig-oracle`, a program over Statsig's official core; build it yourself,
this script never builds it) and with flagcore's `evaluate` example, and compare the two with
compare.py (default: the repository's conformance/compare.py).

The official core can crash (a panic or a stack overflow) or run for minutes on some inputs; those
seeds are counted apart ("oracle crashed" / "oracle timed out") and not compared. A seed where
flagcore fails or disagrees is kept in --keep DIR/seedN (with the oracle's expected.jsonl, flagcore's
actual.jsonl and the compare report) for minimising into a named case under tests/data.

Prints one line per seed that did not agree and a summary: seeds generated, compared, agreeing,
disagreeing, crashed, timed out, and the number of result lines compared. Exit status 0 only when
every compared seed agrees.
"""
import argparse
import concurrent.futures as cf
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_random  # noqa: E402


def default_compare():
    p = os.path.join(HERE, "../../../conformance/compare.py")
    return os.path.abspath(p) if os.path.isfile(p) else None


def run(cmd, stdin_path, stdout_path, timeout):
    with open(stdin_path, "rb") as fin, open(stdout_path, "wb") as fout:
        try:
            p = subprocess.run(cmd, stdin=fin, stdout=fout, stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timeout", b""
    return p.returncode, p.stderr


def one(seed, args):
    d = tempfile.mkdtemp(prefix=f"sweep{seed}-", dir=args.tmp)
    try:
        gen_random.write_case(seed, d, args.users)
        tier = []
        if os.path.exists(os.path.join(d, "environment")):
            tier = [open(os.path.join(d, "environment")).read().strip()]
        dcs, users = os.path.join(d, "dcs.json"), os.path.join(d, "users.jsonl")
        exp, act = os.path.join(d, "expected.jsonl"), os.path.join(d, "actual.jsonl")
        rc, err = run([args.oracle, dcs] + tier, users, exp, args.timeout)
        if rc == "timeout":
            return seed, "oracle timed out", 0, ""
        if rc != 0:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
            return seed, "oracle crashed", 0, f"exit {rc}: {tail[0][:200]}"
        rc, err = run([args.evaluate, dcs] + tier, users, act, args.timeout)
        if rc != 0:
            keep(d, seed, args)
            return seed, "flagcore failed", 0, f"exit {rc}: {err.decode(errors='replace')[-300:]}"
        # Quick in-process check (compare.py's own loading and number rule); compare.py itself
        # runs only to report a seed that disagrees.
        want, got = args.cmp.load(exp), args.cmp.load(act)
        lines = len(want)
        same = set(want) == set(got) and all(
            args.cmp.norm(w.get(f)) == args.cmp.norm(got[k].get(f)) for k, w in want.items() for f in args.cmp.FIELDS)
        if not same:
            cmp = subprocess.run([sys.executable, args.compare, exp, act, "--show", "5"], capture_output=True,
                                 text=True)
            with open(os.path.join(d, "compare.txt"), "w") as f:
                f.write(cmp.stdout + cmp.stderr)
            keep(d, seed, args)
            return seed, "disagree", lines, cmp.stdout.strip().splitlines()[0] if cmp.stdout else cmp.stderr
        return seed, "agree", lines, ""
    finally:
        shutil.rmtree(d, ignore_errors=True)


def keep(d, seed, args):
    if args.keep:
        dst = os.path.join(args.keep, f"seed{seed}")
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(d, dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--evaluate", required=True)
    ap.add_argument("--seeds", default="1:1001", help="START:END (END exclusive)")
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--keep", help="folder for seeds that disagree")
    ap.add_argument("--compare", default=default_compare())
    ap.add_argument("--tmp", default=None)
    args = ap.parse_args()
    if not args.compare:
        sys.exit("compare.py not found: pass --compare")
    spec = importlib.util.spec_from_file_location("compare", args.compare)
    args.cmp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(args.cmp)
    for exe in (args.oracle, args.evaluate):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe}: not an executable")
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    start, end = (int(x) for x in args.seeds.split(":"))
    counts, lines = {}, 0
    with cf.ThreadPoolExecutor(args.jobs) as pool:
        for seed, status, n, note in pool.map(lambda s: one(s, args), range(start, end)):
            counts[status] = counts.get(status, 0) + 1
            lines += n
            if status != "agree":
                print(f"seed {seed}: {status} {note}", flush=True)
    total = end - start
    compared = counts.get("agree", 0) + counts.get("disagree", 0)
    print(f"seeds {total}: compared {compared} (agree {counts.get('agree', 0)}, disagree "
          f"{counts.get('disagree', 0)}), flagcore failed {counts.get('flagcore failed', 0)}, oracle crashed "
          f"{counts.get('oracle crashed', 0)}, oracle timed out {counts.get('oracle timed out', 0)}; "
          f"result lines compared {lines}")
    sys.exit(0 if counts.get("disagree", 0) == 0 and counts.get("flagcore failed", 0) == 0 else 1)


if __name__ == "__main__":
    main()
