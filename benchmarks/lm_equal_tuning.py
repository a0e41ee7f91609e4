"""Equal tuning for the LM baselines: NPO and grad diff get as many trials as lm_concept had, at its passes.

The trials, the pass accounting and the selection rule are ``expunge.lm.equal_tuning`` (its docstring says
why and how); this is its command line. Each trial is one method run of the lm-authors study's pipeline on
a development corpus, through the shared model cache.

    # one process per fraction and method (4 in parallel), then the merge applies the rule:
    python benchmarks/lm_equal_tuning.py --fraction 0.05 --methods lm_npo --part /tmp/tune/npo05.json
    python benchmarks/lm_equal_tuning.py --fraction 0.05 --methods lm_grad_diff --part /tmp/tune/gd05.json
    ... (the same at --fraction 0.1)
    python benchmarks/lm_equal_tuning.py --merge /tmp/tune/*.json

Scale: the 50-author development corpus (corpus seed 1: the corpus on which lm_concept's retain weight and
passes were chosen, sweeps 1-5), the lm-authors model and pretraining recipe, two oracles, unlearning seed 0,
forget 5% and 10%; ``--authors 100`` is the corpus of sweeps 6-18 (about 2.5x the cost).
Writes ``benchmarks/results/lm_tuning_equal_trials.json``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from expunge.lm import equal_tuning as et  # noqa: E402
from expunge.utils import atomic_write_json  # noqa: E402

OUT = Path("benchmarks/results/lm_tuning_equal_trials.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fraction", type=float)
    parser.add_argument("--part", type=Path)
    parser.add_argument("--methods", nargs="+", choices=sorted(et.SPACES), default=sorted(et.SPACES), help="one process per fraction and method runs in parallel")
    parser.add_argument("--merge", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, default=OUT, help="where --merge writes the result")
    parser.add_argument("--trials", default=f"0:{et.TRIALS}", help="START:STOP, the trials this process runs (parts are merged)")
    parser.add_argument("--no-references", action="store_true", help="skip the default rows (another part runs them)")
    parser.add_argument("--authors", type=int, default=50)
    parser.add_argument("--corpus-seed", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--oracles", type=int, default=2)
    args = parser.parse_args()
    if args.corpus_seed == 0:
        parser.error("corpus seed 0 is the evaluation corpus of the lm-authors study; tune on a development corpus (e.g. 1).")
    if args.merge:
        result = et.merge_parts([json.loads(p.read_text()) for p in args.merge], args.authors, args.corpus_seed, args.seed, args.oracles)
        atomic_write_json(args.out, result)
        for name, entry in result["methods"].items():
            print(name, entry["chosen_by"], entry["best"]["hyperparams"], {f: round(v["forget_quality"], 4) for f, v in entry["best"]["per_fraction"].items()})
    elif args.fraction is not None and args.part is not None:
        trials = range(*map(int, args.trials.split(":")))
        et.run_part(args.fraction, args.methods, trials, not args.no_references, args.authors, args.corpus_seed, args.seed, args.oracles, args.part)
    else:
        parser.error("give --fraction and --part (a tuning run) or --merge PARTS")


if __name__ == "__main__":
    main()
