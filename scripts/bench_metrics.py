#!/usr/bin/env python3
"""Metrics benchmark (not a test): `oodflow metrics` against scikit-learn on the same scores.

Writes N ID and N OOD scores (float64 .npy, rounded to 1e-3 so that there are ties, as real
scores have), then times the whole `oodflow metrics` process (reading the files included)
and scikit-learn's roc_auc_score, average_precision_score (AUPR-In and AUPR-Out) and
roc_curve (FPR@95TPR) on arrays already in memory; best of REPEATS runs each. Prints the
seconds, the ratio, and both sets of values (they must agree: the metrics are checked
against scikit-learn by the test suite too).

    /usr/bin/python3 scripts/bench_metrics.py [--rows 5000000] [--repeats 3]
Needs a build (scripts/build.sh) and Debian's python3-sklearn (scripts/install_deps.sh).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--rows", type=int, default=5_000_000, help="scores per set (ID and OOD)")
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--oodflow", default=os.path.join(
    os.environ.get("OODFLOW_BUILD_DIR", os.path.join(here, "build")), "apps", "oodflow"))
args = parser.parse_args()

rng = np.random.default_rng(0)
id_scores = np.round(rng.normal(1.0, 1.0, args.rows), 3)
ood_scores = np.round(rng.normal(0.0, 1.0, args.rows), 3)

with tempfile.TemporaryDirectory() as work:
    id_path, ood_path = os.path.join(work, "id.npy"), os.path.join(work, "ood.npy")
    report = os.path.join(work, "report.json")
    np.save(id_path, id_scores)
    np.save(ood_path, ood_scores)
    ours = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        subprocess.run([args.oodflow, "--quiet", "metrics", "--id", id_path, "--ood",
                        f"ood={ood_path}", "--out", report], check=True,
                       stdout=subprocess.DEVNULL)
        ours.append(time.perf_counter() - t0)
    with open(report) as f:
        r = json.load(f)["detectors"][0]["ood"][0]

scores = np.concatenate([id_scores, ood_scores])
is_id = np.concatenate([np.ones(args.rows), np.zeros(args.rows)])
theirs = []
for _ in range(args.repeats):
    t0 = time.perf_counter()
    auroc = roc_auc_score(is_id, scores)
    aupr_in = average_precision_score(is_id, scores)
    aupr_out = average_precision_score(1 - is_id, -scores)
    fpr, tpr, _ = roc_curve(is_id, scores)
    fpr95 = fpr[np.searchsorted(tpr, 0.95, side="left")]
    theirs.append(time.perf_counter() - t0)

print(f"{2 * args.rows:,} scores ({args.rows:,} ID, {args.rows:,} OOD), best of {args.repeats}")
print("| | seconds | AUROC | AUPR-In | AUPR-Out | FPR@95TPR |")
print("|---|---|---|---|---|---|")
print(f"| oodflow metrics (whole process, from .npy files) | {min(ours):.2f} | {r['auroc']:.9f} "
      f"| {r['aupr_in']:.9f} | {r['aupr_out']:.9f} | {r['fpr95']:.9f} |")
print(f"| scikit-learn (arrays in memory) | {min(theirs):.2f} | {auroc:.9f} | {aupr_in:.9f} "
      f"| {aupr_out:.9f} | {fpr95:.9f} |")
print(f"\nscikit-learn / oodflow time: {min(theirs) / min(ours):.1f}x")
worst = max(abs(r["auroc"] - auroc), abs(r["aupr_in"] - aupr_in), abs(r["aupr_out"] - aupr_out))
print(f"largest difference of AUROC and AUPRs: {worst:.2e}")
sys.exit(0 if worst < 1e-9 else 1)
