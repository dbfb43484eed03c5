#!/usr/bin/env python3
"""Batch OOD benchmark: backbones x OOD sets x detectors x seeds (x epochs) from a JSON config.

    python3 scripts/benchmark.py --config configs/benchmark_fmnist.json [--out out/benchmark]

Only the Python standard library: it drives the `oodflow` binary (extract, train, score) and
collects the JSON reports. Steps:
  1. every (backbone, dataset) pair is extracted once into a feature cache keyed by content:
     SHA-256 of the model file, of the data (and labels) files and of the preprocessing
     config; a second run, or another config using the same pair, reuses the file;
  2. every (backbone, detector, seed, epochs) cell trains one flow on the ID training
     features and scores the ID test set and every OOD set in one `oodflow score` call;
  3. results.csv (one row per backbone, OOD set, detector and epochs: mean and sample
     standard deviation over the seeds of AUROC, FPR@95TPR, AUPR-In and AUPR-Out) and
     results.md (the same as Markdown tables; an epoch table when several epochs are asked)
     are written to --out. Neither holds timings, so the same config gives the same files;
     the wall time is printed at the end;
  4. report_<backbone>.html: every detector of the first seed (and epoch count) in one
     `oodflow score --html` report (ROC curves and score histograms per OOD set);
  5. `oodflow inspect` of every backbone's ID training features: the uniformity and the
     tolerance of its feature space (columns of results.csv, and a table of results.md next
     to the flows' mean AUROC), the two quantities the paper uses to explain when the flow
     works.

Config keys (paths of data relative to "data", the cache of scripts/fetch_data.sh; other
paths relative to the repository):
  data         data cache folder (default $OODFLOW_DATA or ~/.cache/oodflow)
  oodflow      the binary (default build/apps/oodflow)
  extract      extra `oodflow extract` options, e.g. ["--batch-size", "500"]
  backbones    list of {name, model, preprocessing (an extract --config file), id_train,
               id_test, ood: {name: dataset}}; a dataset is a path or {"data", "labels"}
  detectors    list of {name, config (a train --config file), options (extra train flags)}
               for flows, or {name, fit (a baseline: knn, vim, ...), options (extra fit
               flags)}; a baseline is deterministic, so it is fitted once and its row has
               the same value for every seed (spread 0)
  seeds        list of seeds
  epochs       list of epoch counts (default [1]); several give the one-epoch study
"""

import argparse
import csv
import hashlib
import io
import json
import math
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METRICS = ("auroc", "fpr95", "aupr_in", "aupr_out")

# The report layout this script reads (`report_format_version` in the JSON).
REPORT_FORMAT_VERSION = 2


class BenchmarkError(Exception):
    """A problem with the config or a failed oodflow command: one line for the user."""


def ood_metrics(path):
    """{OOD set name: metrics} of the single detector of an `oodflow score` JSON report."""
    with open(path) as f:
        report = json.load(f)
    version = report.get("report_format_version")
    if version != REPORT_FORMAT_VERSION:
        raise BenchmarkError(
            f"'{path}' is a report of format version {version}, this script reads version "
            f"{REPORT_FORMAT_VERSION}: delete it (it is recomputed) or use the matching oodflow")
    return {entry["name"]: entry for entry in report["detectors"][0]["ood"]}


def sha256_of(path, _cache={}):
    """Content hash of a file, or of a folder: every file's relative path and content."""
    if path in _cache:
        return _cache[path]
    digest = hashlib.sha256()
    if os.path.isdir(path):
        for folder, dirs, files in os.walk(path, followlinks=True):
            dirs.sort()
            for name in sorted(files):
                file = os.path.join(folder, name)
                digest.update(os.path.relpath(file, path).encode() + b"\0")
                digest.update(sha256_of(file).encode())
    else:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    _cache[path] = digest.hexdigest()
    return _cache[path]


def resolve(base, path):
    path = os.path.expanduser(os.path.expandvars(path))
    return path if os.path.isabs(path) else os.path.join(base, path)


def dataset_spec(entry, data_dir, what):
    """A dataset entry as (data path, labels path or None), checked to exist."""
    if isinstance(entry, str):
        entry = {"data": entry}
    if not isinstance(entry, dict) or "data" not in entry:
        raise BenchmarkError(f"{what}: expected a path or {{\"data\": ..., \"labels\": ...}}")
    data = resolve(data_dir, entry["data"])
    labels = resolve(data_dir, entry["labels"]) if entry.get("labels") else None
    for path in filter(None, (data, labels)):
        if not os.path.exists(path):
            raise BenchmarkError(f"{what}: '{path}' does not exist; run scripts/fetch_data.sh "
                                 f"(or fix the config's \"data\" folder)")
    return data, labels


def run(command, what):
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode not in (0, 3):  # 3 = a --fail-under gate, never asked here
        last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BenchmarkError(f"{what} failed (exit {result.returncode}): {last}")
    return result


class Benchmark:
    def __init__(self, config, config_path, out_dir):
        self.config = config
        self.out = out_dir
        self.data = resolve(ROOT, config.get("data") or os.environ.get("OODFLOW_DATA")
                            or "~/.cache/oodflow")
        self.oodflow = resolve(ROOT, config.get("oodflow", "build/apps/oodflow"))
        if not os.access(self.oodflow, os.X_OK):
            raise BenchmarkError(f"'{self.oodflow}' is not an executable: build oodflow first "
                                 "(bash scripts/build.sh)")
        self.cache = os.path.join(self.data, "features")
        os.makedirs(self.cache, exist_ok=True)
        self.extracted = 0
        self.reused = 0
        self.fitted = set()
        self.reports = []
        self.spaces = {}

    def features(self, backbone, entry, what):
        """Feature file of one dataset through one backbone, from the cache when present."""
        data, labels = dataset_spec(entry, self.data, what)
        model = resolve(ROOT, backbone["model"])
        preprocessing = resolve(ROOT, backbone["preprocessing"])
        extra = [str(x) for x in self.config.get("extract", [])]
        key = hashlib.sha256(json.dumps({
            "model": sha256_of(model), "data": sha256_of(data),
            "labels": sha256_of(labels) if labels else None,
            "preprocessing": sha256_of(preprocessing),
            "options": [x for x in extra if x not in ("--batch-size", "--workers")],
        }, sort_keys=True).encode()).hexdigest()[:24]
        path = os.path.join(self.cache, key + ".safetensors")
        if os.path.exists(path):
            self.reused += 1
            return path
        command = [self.oodflow, "--quiet", "extract", "--config", preprocessing,
                   "--backbone", model, "--data", data, "--out", path, *extra]
        if labels:
            command += ["--labels", labels]
        print(f"  extract {what}", flush=True)
        run(command, f"extract {what}")
        self.extracted += 1
        return path

    def cell(self, backbone, sets, detector, seed, epochs):
        """Trains one flow (or fits one baseline) and scores every set; returns {ood: metrics}."""
        baseline = detector.get("fit")
        name = (f"{backbone['name']}.{detector['name']}" if baseline else
                f"{backbone['name']}.{detector['name']}.seed{seed}.epochs{epochs}")
        model = os.path.join(self.out, "flows", name + ".safetensors")
        report = os.path.join(self.out, "flows", name + ".report.json")
        if baseline and os.path.exists(report) and name in self.fitted:
            return ood_metrics(report)
        if baseline:
            command = [self.oodflow, "--quiet", "fit", "--detector", baseline,
                       "--features", sets["id_train"], "--out", model]
            print(f"  fit {name}", flush=True)
        else:
            command = [self.oodflow, "--quiet", "train", "--features", sets["id_train"],
                       "--out", model, "--seed", str(seed), "--epochs", str(epochs)]
            if detector.get("config"):
                command += ["--config", resolve(ROOT, detector["config"])]
            print(f"  train {name}", flush=True)
        command += [str(x) for x in detector.get("options", [])]
        run(command, f"{'fit' if baseline else 'train'} {name}")
        self.fitted.add(name)
        score = [self.oodflow, "--quiet", "score", "--model", model,
                 "--id", sets["id_test"], "--out", report]
        for ood, path in sets["ood"].items():
            score += ["--ood", f"{ood}={path}"]
        run(score, f"score {name}")
        return ood_metrics(report)

    def run(self):
        os.makedirs(os.path.join(self.out, "flows"), exist_ok=True)
        rows = []
        for backbone in self.config["backbones"]:
            bname = backbone["name"]
            print(f"backbone {bname}", flush=True)
            sets = {
                "id_train": self.features(backbone, backbone["id_train"], f"{bname}/id_train"),
                "id_test": self.features(backbone, backbone["id_test"], f"{bname}/id_test"),
                "ood": {ood: self.features(backbone, entry, f"{bname}/{ood}")
                        for ood, entry in backbone["ood"].items()},
            }
            for detector in self.config["detectors"]:
                for epochs in self.config.get("epochs", [1]):
                    per_seed = [self.cell(backbone, sets, detector, seed, epochs)
                                for seed in self.config["seeds"]]
                    for ood in backbone["ood"]:
                        rows.append(summarise(bname, ood, detector["name"], epochs,
                                              [r[ood] for r in per_seed]))
            self.html_report(backbone, sets)
            self.spaces[bname] = self.inspect(sets["id_train"], f"{bname}/id_train")
            for row in rows:
                if row["backbone"] == bname:
                    row.update(self.spaces[bname])
        return rows

    def inspect(self, features, what):
        """Uniformity and tolerance of a feature file (`oodflow inspect --json`)."""
        result = run([self.oodflow, "--quiet", "inspect", features, "--json"], f"inspect {what}")
        stats = json.loads(result.stdout)
        return {key: (stats[key] or {}).get("value", math.nan)
                for key in ("uniformity", "tolerance")}

    def html_report(self, backbone, sets):
        """Every detector of the first seed and epoch count in one `score --html` report."""
        seed, epochs = self.config["seeds"][0], self.config.get("epochs", [1])[0]
        path = os.path.join(self.out, f"report_{backbone['name']}.html")
        score = [self.oodflow, "--quiet", "score", "--id", sets["id_test"], "--html", path]
        for detector in self.config["detectors"]:
            name = (f"{backbone['name']}.{detector['name']}" if detector.get("fit") else
                    f"{backbone['name']}.{detector['name']}.seed{seed}.epochs{epochs}")
            score += ["--model", os.path.join(self.out, "flows", name + ".safetensors")]
        for ood, ood_path in sets["ood"].items():
            score += ["--ood", f"{ood}={ood_path}"]
        run(score, f"report {backbone['name']}")
        self.reports.append(path)


def load_config(path, prog):
    """The JSON config at `path`, or None after a one-line error on stderr."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        print(f"{prog}: error: cannot read config '{path}': {e}", file=sys.stderr)
        return None


def summarise(backbone, ood, detector, epochs, reports):
    row = {"backbone": backbone, "ood": ood, "detector": detector, "epochs": epochs,
           "seeds": len(reports)}
    for metric in METRICS:
        values = [math.nan if r.get(metric) is None else r[metric] for r in reports]
        row[f"{metric}_mean"] = statistics.fmean(values)
        row[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else 0.0
    return row


def percent(row, metric):
    """Mean ± spread in %; just the mean when every seed gave the same value (baselines)."""
    mean, std = 100 * row[metric + "_mean"], 100 * row[metric + "_std"]
    return f"{mean:.2f}" if std == 0 else f"{mean:.2f} ± {std:.2f}"


def markdown(rows, config):
    seeds = len(config["seeds"])
    out = io.StringIO()
    out.write(f"Mean ± sample std over {seeds} seed(s), in % (a single value: the same for "
              "every seed). AUROC and AUPR: higher is better; FPR@95TPR (ID positive, the "
              "share of OOD accepted at 95% ID recall): lower is better.\n")
    epochs_list = config.get("epochs", [1])
    for backbone in dict.fromkeys(r["backbone"] for r in rows):
        mine = [r for r in rows if r["backbone"] == backbone]
        detectors = list(dict.fromkeys(r["detector"] for r in mine))
        first = epochs_list[0]
        out.write(f"\n**{backbone}** ({first} epoch{'s' if first != 1 else ''}): "
                  "AUROC / FPR@95TPR\n\n")
        out.write("| OOD set | " + " | ".join(detectors) + " |\n")
        out.write("|---|" + "---|" * len(detectors) + "\n")
        for ood in dict.fromkeys(r["ood"] for r in mine):
            cells = []
            for d in detectors:
                r = next(r for r in mine if r["ood"] == ood and r["detector"] == d
                         and r["epochs"] == first)
                cells.append(f"{percent(r, 'auroc')} / {percent(r, 'fpr95')}")
            out.write(f"| {ood} | " + " | ".join(cells) + " |\n")
        if len(epochs_list) > 1:
            for d in detectors:
                out.write(f"\n**{backbone}**, {d}: AUROC by epochs of flow training\n\n")
                oods = list(dict.fromkeys(r["ood"] for r in mine))
                out.write("| epochs | " + " | ".join(oods) + " |\n")
                out.write("|---|" + "---|" * len(oods) + "\n")
                for e in epochs_list:
                    cells = [percent(next(r for r in mine if r["ood"] == o and r["detector"] == d
                                          and r["epochs"] == e), "auroc") for o in oods]
                    out.write(f"| {e} | " + " | ".join(cells) + " |\n")
    out.write(feature_space_table(rows, config))
    return out.getvalue()


def feature_space_table(rows, config):
    """Uniformity and tolerance of each backbone's ID training features next to the mean
    AUROC (over its OOD sets and seeds) of every detector trained or fitted on them."""
    if not rows or "uniformity" not in rows[0]:
        return ""
    first = config.get("epochs", [1])[0]
    detectors = list(dict.fromkeys(r["detector"] for r in rows))
    out = io.StringIO()
    out.write("\n**Feature space** of the ID training features (`oodflow inspect`): uniformity "
              "log E[exp(-2 ||u - v||^2)] (lower = more uniform on the sphere) and tolerance "
              "(mean cosine of same-class pairs), next to each detector's AUROC (%) averaged "
              "over the OOD sets\n\n")
    out.write("| backbone | uniformity | tolerance | " + " | ".join(detectors) + " |\n")
    out.write("|---|---|---|" + "---|" * len(detectors) + "\n")
    for backbone in dict.fromkeys(r["backbone"] for r in rows):
        mine = [r for r in rows if r["backbone"] == backbone and r["epochs"] == first]
        cells = [f"{100 * statistics.fmean(r['auroc_mean'] for r in mine if r['detector'] == d):.2f}"
                 for d in detectors]
        figures = ["n/a" if math.isnan(mine[0][k]) else f"{mine[0][k]:.3f}"
                   for k in ("uniformity", "tolerance")]  # n/a: no labels for the tolerance
        out.write(f"| {backbone} | " + " | ".join(figures + cells) + " |\n")
    return out.getvalue()


def write_results(rows, config, out_dir):
    fields = ["backbone", "ood", "detector", "epochs", "seeds"] + [
        f"{m}_{s}" for m in METRICS for s in ("mean", "std")] + ["uniformity", "tolerance"]
    with open(os.path.join(out_dir, "results.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v)
                             for k, v in row.items()})
    table = markdown(rows, config)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(table)
    return table


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Run an OOD benchmark grid (backbones x OOD sets x detectors x seeds x "
                    "epochs) with oodflow; writes results.csv and results.md.",
        epilog="See the module docstring (head of this file) for the config format.")
    parser.add_argument("--config", required=True, help="benchmark JSON (see configs/)")
    parser.add_argument("--out", default=None,
                        help="output folder (default out/benchmark/<config name>)")
    args = parser.parse_args(argv)
    config = load_config(args.config, "benchmark")
    if config is None:
        return 2
    for key in ("backbones", "detectors", "seeds"):
        if not config.get(key):
            print(f"benchmark: error: config '{args.config}' needs a non-empty \"{key}\"",
                  file=sys.stderr)
            return 2
    name = os.path.splitext(os.path.basename(args.config))[0]
    out_dir = args.out or os.path.join(ROOT, "out", "benchmark", name)
    start = time.monotonic()
    try:
        bench = Benchmark(config, args.config, out_dir)
        rows = bench.run()
    except BenchmarkError as e:
        print(f"benchmark: error: {e}", file=sys.stderr)
        return 1
    table = write_results(rows, config, out_dir)
    print()
    print(table)
    print(f"benchmark: HTML reports (seed {config['seeds'][0]}): {', '.join(bench.reports)}")
    print(f"benchmark: {len(rows)} result rows in {out_dir}/results.{{md,csv}}; "
          f"{bench.extracted} feature files extracted, {bench.reused} reused from the cache; "
          f"{time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
