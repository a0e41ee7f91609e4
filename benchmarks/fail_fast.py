"""Wall time from `expunge ...` to its one-line error, over a dozen bad configs (issue 24: under 2 s on a quiet 2-core machine).

Each case runs the real command line in a fresh process (so the import cost is counted), checks
that it exits 2 with one line naming the key and no traceback, and times it. A few cases are also
timed through the full loader (``load_config``, which imports torch and every built-in) for the
comparison. The load average is stored beside the numbers: this is a figure, not a timed test.

    python benchmarks/fail_fast.py            # writes benchmarks/results/fail_fast.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from expunge.utils import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
PRESET = str(ROOT / "src" / "expunge" / "configs" / "demo-quick.yaml")
EXPUNGE = [sys.executable, "-m", "expunge.cli"]

# (name, command-line arguments after `expunge`, a word the error must contain)
CASES: list[tuple[str, list[str], str]] = [
    ("folder as config", ["run", "{tmp}"], "is a folder"),
    ("unknown key", ["run", PRESET, "recipe.epochz=3"], "recipe.epochz"),
    ("wrong type", ["run", PRESET, "recipe.epochs=ten"], "recipe.epochs"),
    ("unknown unlearner", ["run", PRESET, "methods.0.name=nope"], "methods.0.name"),
    ("unknown hyperparameter", ["run", PRESET, "methods.0.hyperparams.lrr=0.1"], "methods.0.hyperparams.lrr"),
    ("NaN hyperparameter", ["run", PRESET, "methods.0.hyperparams.lr=.nan"], "finite"),
    ("inf recipe lr", ["run", PRESET, "recipe.lr=.inf"], "recipe.lr"),
    ("empty methods", ["run", PRESET, "methods=[]"], "methods is empty"),
    ("duplicate seeds", ["run", PRESET, "seeds=[0,0]"], "seeds"),
    ("split fraction", ["run", PRESET, "split.fraction=1.5"], "split.fraction"),
    ("train_size beyond data", ["run", PRESET, "split.train_size=70000"], "split.train_size"),
    ("out is a file", ["run", PRESET, "out={tmp}/file"], "existing file"),
    ("device absent", ["run", PRESET, "device=mps"], "device"),
    ("wrong family", ["run", PRESET, "family=gan"], "supports the families"),
    ("tune --trials 0", ["tune", PRESET, "--method", "DEL", "--trials", "0"], "--trials"),
    ("frontier, unknown key", ["frontier", PRESET, "oracless=3"], "oracless"),
]
FULL_LOADER_CASES = ["unknown key", "NaN hyperparameter", "empty methods"]


def run_case(args: list[str], tmp: str) -> tuple[float, int, str]:
    argv = [a.replace("{tmp}", tmp) for a in args]
    start = time.perf_counter()
    proc = subprocess.run(EXPUNGE + argv, capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return time.perf_counter() - start, proc.returncode, proc.stderr.strip()


def run_full_loader(args: list[str]) -> float:
    code = f"from expunge.experiments import load_config\ntry:\n    load_config({args[1]!r}, {args[2:]!r})\nexcept Exception:\n    pass"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=300)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fail_fast.json"))
    parser.add_argument("--no-full-loader", action="store_true", help="skip the comparison through load_config")
    opts = parser.parse_args()
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "file").write_text("not a folder")
        for name, args, needle in CASES:
            seconds, code, err = run_case(args, tmp)
            ok = code == 2 and needle in err and "Traceback" not in err and len(err.splitlines()) == 1
            rows.append({"case": name, "argv": args, "seconds": round(seconds, 3), "exit_code": code, "clean_one_line_error": ok, "error": err[-300:]})
            print(f"{name:24s} {seconds:6.2f} s  exit {code}  {'ok' if ok else 'NOT CLEAN'}  {err[-120:]}")
    full = []
    if not opts.no_full_loader:
        for name, args, _ in (c for c in CASES if c[0] in FULL_LOADER_CASES):
            seconds = run_full_loader(args)
            full.append({"case": name, "seconds": round(seconds, 3)})
            print(f"{name:24s} {seconds:6.2f} s  through load_config (imports torch)")
    times = [r["seconds"] for r in rows]
    result = {
        "what": "wall seconds from `python -m expunge.cli ...` to its one-line config error, one fresh process per case",
        "cases": rows,
        "median_seconds": round(statistics.median(times), 3),
        "max_seconds": round(max(times), 3),
        "all_clean": all(r["clean_one_line_error"] for r in rows),
        "full_loader": full,
        "full_loader_median_seconds": round(statistics.median([r["seconds"] for r in full]), 3) if full else None,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    atomic_write_json(opts.out, result)
    print(f"median {result['median_seconds']} s, max {result['max_seconds']} s, all clean: {result['all_clean']}; wrote {opts.out}")


if __name__ == "__main__":
    main()
