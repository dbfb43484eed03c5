#!/usr/bin/env python3
"""The flow study of issue 17: does the recommended flow recipe beat the baselines, which of
its levers matter, how many steps it needs, what it costs, and can it be chosen from ID data
alone? Every table goes into one Markdown file.

    /usr/bin/python3 scripts/flow_study.py --config configs/flow_study.json [--quick] [--only T1,T6]
        [--out DIR] [--oodflow BINARY]

Needs the data of scripts/fetch_data.sh and a built oodflow (default build/apps/oodflow, or
the config's "oodflow"; --oodflow overrides both). Only the standard library and numpy: it
drives the `oodflow` binary and reuses scripts/benchmark.py (the feature-extraction cache,
dataset specs, the command runner, report parsing) and scripts/write_features_example.py
(safetensors with numpy). --quick runs the config's "quick" overrides (one seed, a few
training steps, two backbones) into out/flow_study_quick: a smoke test of a few minutes once
the features are in the cache (the first run extracts them, as the full study would).

Writes into --out (default out/flow_study):
  study.md     every table below (with --only, study-T1-T6.md etc., so that a partial run
               never replaces the full study), the settings, skipped backbones;
  study.csv    every raw number, one per row: table, backbone, method, set, seed, step,
               class, metric, value (AUROC etc. as fractions; seconds; NLL in nats);
  study.json   the config as run (after --quick), the goal check, the T6 pick and the raw rows;
  models/      every flow and baseline model with its report.json and a .run.json record: the
               fingerprint of the command (every argument, with the SHA-256 of every input
               file: features, recipe config files, the model scored) and the wall seconds.
               A model or report whose record matches is reused, so an interrupted run goes
               on where it stopped and a changed recipe, config file or feature file is redone;
  selection/   T6's leave-one-class-out feature files (cheap to remake).
Features are extracted once per (backbone, data set) into benchmark.py's cache
(<data>/features), WITHOUT --odin: ODIN is not part of this study.

Tables (mean ± sample standard deviation over the seeds; a single value = one seed or a
deterministic baseline, fitted once; AUROC and FPR@95TPR in %):
  T1  main: per backbone, per OOD set and the backbone's mean over its sets, every recipe of
      "main" (paper, recommended) and every baseline: AUROC, then FPR@95TPR in a second table.
  T2  goal check: per backbone, the "goal" recipe's (recommended) mean AUROC against the best
      baseline's (named), the difference and whether issue 17's goal holds: on a far-OOD
      backbone recommended >= best baseline - far_margin (0), on a near-OOD backbone
      recommended >= best baseline - near_margin (1.0 point).
  T3  ablation: every recipe of "ablation" (paper, each lever alone on top of it,
      recommended): each backbone's mean AUROC and its difference to "goal.reference"
      (paper), and the mean over the far and over the near backbones.
  T4  training budget: each recipe of "budget.recipes", one run per seed of "budget.seeds"
      with --steps max_steps --snapshot-steps snapshot_steps --eval-fraction eval_fraction
      --eval-every eval_every (step 0 = the initialisation: with --init gaussian the closed-form
      Gaussian fit); every snapshot is scored: AUROC per OOD set and mean, the
      held-out ID NLL the training recorded at that step (summary "heldout_nll") and the NLL
      of the ID test set (-mean log p from `oodflow score --scores`), against steps.
  T5  cost: mean training seconds (the flow's summary: the training loop alone), steps and
      samples/s of every recipe of T1, T3 and T4 per backbone; the wall seconds of each
      baseline's `oodflow fit` (data loading included).
  T6  ID-only selection proxy, leave one class out: for each recipe of "selection.recipes",
      each selection backbone and each of its ID classes c: train on the ID training rows
      whose label != c (numpy writes the subset, labels renumbered 0..K-2), score the ID test
      rows: positives label != c, negatives label c; AUROC per class and the mean, the
      held-out ID NLL of the summary (at best_step, else the last evaluation), the NLL of the
      positives, the seconds, the seed spread. No OOD set is touched. The recipe is picked
      by the rule printed with the table: the best mean proxy AUROC; recipes within the seed
      spread of it (the larger sample sd of the two) tie, and the tie goes to the lower mean
      training seconds.
  T7  seed ensembles: for each recipe of "ensemble.recipes", the flows of the seeds (T1's
      models) scored together (`oodflow score --model ... --scores`); the ensemble of the first
      k seeds scores a sample by the mean of their log-densities, and `oodflow metrics` gives
      its AUROC, per OOD set and the mean, for k = 1 (each seed alone: mean ± sd) up to every
      seed; beside it the best baseline (as T2) and the training cost (k x one flow's seconds).
      Nothing is trained: the score files of the seeds are averaged.

Config keys (paths relative to the repository; data paths relative to "data"):
  data, extract      as scripts/benchmark.py: the data cache (default $OODFLOW_DATA or
                     ~/.cache/oodflow) and extra `oodflow extract` options (never --odin here)
  oodflow            the binary (default build/apps/oodflow)
  seeds              seeds of every flow of T1/T3 (baselines are fitted once)
  backbones          list of {name, kind: "far" | "near", model, preprocessing, id_train,
                     id_test, ood: {name: dataset}} as in benchmark.py; a backbone whose model
                     file does not exist is skipped with a warning
  recipes            {name: [`oodflow train` arguments]}, e.g. "paper": ["--config",
                     "configs/glow.json"]; the --config file is relative to the repository;
                     --features, --out and --seed are added by the script
  baselines          {name: [`oodflow fit` arguments]}, e.g. "gaussian-l2": ["--detector",
                     "gaussian", "--normalize", "l2"]; "{backbone}" stands for the backbone's
                     model file (react and vim read its classifier head: without it, the path
                     recorded in the cached features, which may be another checkout's)
  main               recipe names of T1 (and T5)
  ablation           recipe names of T3 (and T5)
  ablation_backbones the backbones T3 trains its recipes on (default: all; the recipes of
                     "main" are trained on every backbone)
  goal               {recipe, reference, far_margin, near_margin} of T2 and T3
  budget             {recipes, backbones (null = all), seeds, max_steps, snapshot_steps,
                     eval_fraction, eval_every} of T4
  selection          {recipes, backbones, classes: {backbone: [class, ...]} (absent = all),
                     seeds, options: train arguments added to every T6 run unless its recipe
                     sets them (default: an --eval-fraction so that the summary has a held-out
                     NLL)} of T6
  ensemble           {recipes} of T7 (trained on every backbone and seed, as "main")
  quick              what --quick changes: seeds, backbones and baselines (names kept),
                     train_options (set in every T1/T3/T6 training, replacing the recipe's own
                     value: a few --steps), budget and selection (keys merged into those)
"""

import argparse
import csv
import hashlib
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchmark  # noqa: E402  (scripts/benchmark.py: extraction cache, runner, reports)
from benchmark import BenchmarkError, load_config, ood_metrics, resolve, run  # noqa: E402
from write_features_example import load_safetensors, save_safetensors  # noqa: E402

ROOT = benchmark.ROOT
TABLES = ("T1", "T2", "T3", "T4", "T5", "T6", "T7")
CSV_FIELDS = ("table", "backbone", "method", "set", "seed", "step", "class", "metric", "value")
TITLES = {
    "T1": "T1. Main results",
    "T2": "T2. Goal check",
    "T3": "T3. Ablation: each lever alone on top of the paper recipe",
    "T4": "T4. Training budget",
    "T5": "T5. Cost",
    "T6": "T6. ID-only selection proxy (leave one class out)",
    "T7": "T7. Seed ensembles",
}


# ---------------------------------------------------------------------------------------------
# Small helpers

def split_options(args):
    """["--a", "1", "--flag", "--b", "2"] -> [["--a", "1"], ["--flag"], ["--b", "2"]]."""
    out, i = [], 0
    while i < len(args):
        if args[i].startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("--"):
            out.append([args[i], args[i + 1]])
            i += 2
        else:
            out.append([args[i]])
            i += 1
    return out


def with_options(args, extra, replace=True):
    """`args` with the options of `extra`: an option already in `args` takes extra's value
    (replace) or keeps its own (not replace); oodflow refuses an option given twice."""
    groups = split_options([str(a) for a in args])
    for option in split_options([str(a) for a in extra]):
        at = next((i for i, g in enumerate(groups) if g[0] == option[0]), None)
        if at is None:
            groups.append(option)
        elif replace:
            groups[at] = option
    return [x for g in groups for x in g]


def option_value(args, flag):
    group = next((g for g in split_options([str(a) for a in args]) if g[0] == flag), None)
    return group[1] if group and len(group) > 1 else None


def resolve_recipe_paths(args):
    """The --config file of a recipe is relative to the repository."""
    groups = split_options([str(a) for a in args])
    for g in groups:
        if g[0] in ("--config", "--backbone") and len(g) > 1:
            g[1] = resolve(ROOT, g[1])
    return [x for g in groups for x in g]


_hashes = {}


def recipe_signature(args):
    """A recipe's arguments with each --config file replaced by its settings (without
    "_comment"), so that two spellings of one recipe compare equal."""
    out, args = [], [str(a) for a in args]
    i = 0
    while i < len(args):
        if args[i] == "--config" and i + 1 < len(args):
            with open(resolve(ROOT, args[i + 1])) as f:
                settings = {k: v for k, v in json.load(f).items() if k != "_comment"}
            out.append(json.dumps(settings, sort_keys=True))
            i += 2
        else:
            out.append(args[i])
            i += 1
    return out


def file_hash(path):
    """SHA-256 of a file, remembered while its size and modification time stay the same."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _hashes:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _hashes[key] = digest.hexdigest()
    return _hashes[key]


def fingerprint(args):
    """The arguments of a command with every input file replaced by its SHA-256 (also in
    NAME=FILE; the script passes every path absolute), so that a record matches only the
    same command on the same inputs, wherever the repository and the data cache are."""
    out = []
    for a in args:
        a = str(a)
        name, _, path = a.partition("=")
        if os.path.isabs(a) and os.path.isfile(a):
            out.append("sha256:" + file_hash(a))
        elif path and os.path.isabs(path) and os.path.isfile(path):
            out.append(f"{name}=sha256:{file_hash(path)}")
        else:
            out.append(a)
    return out


def read_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return default


def finite(value):
    """NaN -> None, recursively (strict JSON)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def write_json(path, value):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(finite(value), f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def model_metadata(path):
    """The __metadata__ of a safetensors model file (its JSON header alone is read)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return header.get("__metadata__", {})


def train_summary(path):
    """The training summary of a flow file (seconds, steps, samples_per_second, heldout_nll
    [[step, nll], ...], best_step...), {} for a baseline."""
    text = model_metadata(path).get("summary")
    return json.loads(text) if text else {}


def heldout_nll(summary, step=None):
    """Held-out ID NLL of a summary: at `step`, else at best_step, else the last one."""
    points = {int(s): v for s, v in summary.get("heldout_nll") or []}
    if not points:
        return math.nan
    if step is not None:
        return points.get(int(step), math.nan)
    best = summary.get("best_step")
    if best is not None and int(best) in points:
        return points[int(best)]
    return points[max(points)]


def id_nll_from_scores(path):
    """-mean score of the ID rows of a `score --scores` CSV (for a flow: the NLL in nats)."""
    values = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["set"] == "id":
                values.append(float(row["score"]))
    return -statistics.fmean(values) if values else math.nan


def stats(values):
    """(mean, sample sd or None for one value); (NaN, None) if any is NaN or None;
    (None, None) for no values."""
    values = [math.nan if v is None else float(v) for v in values]
    if not values:
        return None, None
    if any(math.isnan(v) for v in values):
        return math.nan, None  # a missing value (no held-out NLL, a NaN score): n/a
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else None
    return mean, sd


def fmt(values, scale=100.0, digits=2, signed=False):
    """'m ± sd' of the values times scale; 'm' for one value; '—' for none."""
    mean, sd = stats(values)
    if mean is None:
        return "—"
    if math.isnan(mean):
        return "n/a"
    text = f"{scale * mean:+.{digits}f}" if signed else f"{scale * mean:.{digits}f}"
    if sd is not None and not math.isnan(sd):
        text += f" ± {scale * sd:.{digits}f}"
    return text


def mean_of(values):
    mean, _ = stats(values)
    return math.nan if mean is None else mean


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def bold_best(cells, values, higher=True):
    """Bold the cell of the best finite value."""
    finite = [(v, i) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    if not finite:
        return cells
    best = max(finite)[0] if higher else min(finite)[0]
    return [f"**{c}**" if v == best else c for c, v in zip(cells, values)]


def merge(base, override):
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


# ---------------------------------------------------------------------------------------------
# The study

class Study:
    def __init__(self, config, out_dir, oodflow, quick):
        self.config = config
        self.quick = quick
        self.out = out_dir
        self.models = os.path.join(out_dir, "models")
        os.makedirs(self.models, exist_ok=True)
        bench_config = {"data": config.get("data"), "oodflow": oodflow,
                        "extract": config.get("extract", [])}
        if "--odin" in [str(x) for x in bench_config["extract"]]:
            raise BenchmarkError("\"extract\" holds --odin: ODIN is not part of this study")
        self.bench = benchmark.Benchmark(bench_config, None, out_dir)
        self.oodflow = self.bench.oodflow
        self.start = time.monotonic()
        self.raw = []
        self.sets_cache = {}
        self.arrays = {}
        self.grid = {}        # (backbone, method, seed) -> {ood: metrics}; baselines: seed None
        self.costs = {}       # (backbone, method, seed) -> {"seconds", "steps", ...}
        self.trained = 0
        self.reused = 0
        self.skipped = []
        self.backbones = []
        for b in config["backbones"]:
            if b.get("kind") not in ("far", "near"):
                raise BenchmarkError(f"backbone '{b.get('name')}': \"kind\" must be far or near")
            if not os.path.exists(resolve(ROOT, b["model"])):
                message = f"backbone '{b['name']}': its model '{b['model']}' does not exist"
                print(f"flow_study: warning: {message}: skipped", file=sys.stderr, flush=True)
                self.skipped.append(message)
                continue
            self.backbones.append(b)
        if not self.backbones:
            raise BenchmarkError("no backbone left to study (every model file is missing)")
        self.by_name = {b["name"]: b for b in self.backbones}
        self.seeds = [int(s) for s in config["seeds"]]

    # -- logging and raw numbers

    def log(self, message):
        elapsed = time.monotonic() - self.start
        print(f"[{int(elapsed) // 60:3d}:{int(elapsed) % 60:02d}] {message}", flush=True)

    def record(self, table_id, backbone, method, metric, value, set_="", seed="", step="",
               class_=""):
        self.raw.append({"table": table_id, "backbone": backbone, "method": method, "set": set_,
                         "seed": "" if seed is None else seed, "step": step, "class": class_,
                         "metric": metric, "value": value})

    # -- data

    def sets(self, backbone):
        """Feature files of a backbone: id_train, id_test and {ood name: file} (extracted once)."""
        name = backbone["name"]
        if name not in self.sets_cache:
            f = self.bench.features
            self.sets_cache[name] = {
                "id_train": f(backbone, backbone["id_train"], f"{name}/id_train"),
                "id_test": f(backbone, backbone["id_test"], f"{name}/id_test"),
                "ood": {ood: f(backbone, entry, f"{name}/{ood}")
                        for ood, entry in backbone["ood"].items()},
            }
        return self.sets_cache[name]

    def recipe(self, name, quick_options=True):
        recipes = self.config["recipes"]
        if name not in recipes:
            raise BenchmarkError(f"recipe '{name}' is not in the config's \"recipes\"")
        args = [str(a) for a in recipes[name]]
        if quick_options and self.quick:
            args = with_options(args, self.config.get("train_options", []))
        return resolve_recipe_paths(args)

    # -- running oodflow with records

    def make(self, model, command, what):
        """Runs `oodflow COMMAND --out MODEL` unless MODEL and its record match; returns
        (the record {"make": fingerprint, "seconds": wall}, whether it ran)."""
        stem = model[:-len(".safetensors")]
        record_path = stem + ".run.json"
        record = read_json(record_path, {})
        key = fingerprint(command)
        if os.path.exists(model) and record.get("make") == key:
            self.reused += 1
            return record, False
        os.makedirs(os.path.dirname(model), exist_ok=True)
        for name in os.listdir(os.path.dirname(model)):  # snapshots of an earlier run
            if name.startswith(os.path.basename(stem) + ".step") and name.endswith(".safetensors"):
                os.remove(os.path.join(os.path.dirname(model), name))
        self.log(f"  {command[0]} {what}")
        started = time.monotonic()
        run([self.oodflow, "--quiet", *command, "--out", model], f"{command[0]} {what}")
        record = {"make": key, "seconds": time.monotonic() - started}
        write_json(record_path, record)
        self.trained += 1
        return record, True

    def score(self, model, stem, id_path, ood, what, id_nll=False):
        """`oodflow score` of a model on an ID set and {name: OOD file}, kept as
        STEM.report.json with the record STEM.score.json; returns ({ood: metrics}, ID NLL)."""
        report, record_path = stem + ".report.json", stem + ".score.json"
        command = ["score", "--model", model, "--id", id_path]
        for name, path in ood.items():
            command += ["--ood", f"{name}={path}"]
        key = fingerprint(command) + (["id_nll"] if id_nll else [])
        record = read_json(record_path, {})
        if os.path.exists(report) and record.get("score") == key:
            return ood_metrics(report), record.get("id_nll", math.nan)
        extra = []
        scores = stem + ".scores.csv"
        if id_nll:
            extra = ["--scores", scores]
        run([self.oodflow, "--quiet", *command, "--out", report, *extra], f"score {what}")
        record = {"score": key}
        if id_nll:
            record["id_nll"] = id_nll_from_scores(scores)
            os.remove(scores)  # large; the NLL is kept in the record
        write_json(record_path, record)
        return ood_metrics(report), record.get("id_nll", math.nan)

    def cost(self, key, model, record):
        summary = train_summary(model)
        self.costs[key] = {"wall": record.get("seconds", math.nan),
                           "seconds": summary.get("seconds", math.nan),
                           "steps": summary.get("steps", math.nan),
                           "samples_per_second": summary.get("samples_per_second", math.nan)}

    # -- T1, T2, T3, T5: the grid of recipes and baselines on every backbone

    def run_grid(self, recipes, baselines):
        jobs = []
        main = set(self.config.get("main", []))
        ensemble = set(self.config.get("ensemble", {}).get("recipes", []))
        for b in self.backbones:
            jobs += [(b, "baseline", name, None) for name in baselines]
            jobs += [(b, "recipe", name, s) for name in recipes for s in self.seeds
                     if name in main or name in ensemble or b in self.ablation_backbones()]
        jobs = [j for j in jobs if (j[0]["name"], j[2], j[3]) not in self.grid]
        for i, (b, kind, name, seed) in enumerate(jobs, 1):
            bname = b["name"]
            sets = self.sets(b)
            folder = os.path.join(self.models, bname)
            what = f"{bname}/{name}" + ("" if seed is None else f" seed {seed}")
            if kind == "baseline":
                stem = os.path.join(folder, f"baseline.{name}")
                command = ["fit", "--features", sets["id_train"], *[
                    str(a).replace("{backbone}", resolve(ROOT, b["model"]))
                    for a in self.config["baselines"][name]]]
            else:
                stem = os.path.join(folder, f"{name}.seed{seed}")
                command = ["train", "--features", sets["id_train"],
                           *with_options(self.recipe(name), ["--seed", str(seed)])]
            model = stem + ".safetensors"
            record, made = self.make(model, command, what)
            self.grid[(bname, name, seed)], _ = self.score(
                model, stem, sets["id_test"], sets["ood"], what)
            self.cost((bname, name, seed), model, record)
            self.log(f"grid [{i}/{len(jobs)}] {what}: "
                     + (f"made in {record['seconds']:.0f} s" if made else "reused"))

    def ablation_backbones(self):
        """The backbones of T3: "ablation_backbones" of the config, or every backbone."""
        names = self.config.get("ablation_backbones")
        return [b for b in self.backbones if names is None or b["name"] in names]

    def seeds_of(self, bname, method):
        return [None] if (bname, method, None) in self.grid else self.seeds

    def per_seed(self, bname, method, metric="auroc", ood=None):
        """Values of one cell per seed (one value for a baseline); ood None = mean over sets."""
        seeds = self.seeds_of(bname, method)
        values = []
        for s in seeds:
            result = self.grid[(bname, method, s)]
            oods = [ood] if ood else list(self.by_name[bname]["ood"])
            values.append(mean_of([result[o].get(metric) for o in oods]))
        return values

    def t1(self, recipes, baselines):
        out = [f"## {TITLES['T1']}\n",
               f"Every recipe of \"main\" ({len(self.seeds)} seed(s): mean ± sample sd; one "
               "value for one seed) and every baseline (deterministic, fitted once), trained or "
               "fitted on the ID training features of each backbone (10% held out for the "
               "thresholds, the default) and scored on its ID test set and OOD sets. The "
               "best of each row in bold. `mean`: the mean over the backbone's OOD sets (per "
               "seed, then over the seeds).\n"]
        methods = list(recipes) + list(baselines)
        for metric, label, higher in (("auroc", "AUROC %", True),
                                      ("fpr95", "FPR@95TPR % (lower is better)", False)):
            for b in self.backbones:
                bname = b["name"]
                rows = []
                for ood in list(b["ood"]) + [None]:
                    values = [self.per_seed(bname, m, metric, ood) for m in methods]
                    cells = bold_best([fmt(v) for v in values], [mean_of(v) for v in values],
                                      higher)
                    rows.append([ood or "**mean**"] + cells)
                    for m, v in zip(methods, values):
                        for s, x in zip(self.seeds_of(bname, m), v):
                            self.record("T1", bname, m, metric, x, ood or "mean", s)
                out.append(f"**{bname}** ({b['kind']}-OOD): {label}\n")
                out.append(table(["OOD set"] + methods, rows))
        return "\n".join(out)

    def t2(self, baselines):
        goal = self.config.get("goal", {})
        rec = goal.get("recipe", "recommended")
        margins = {"far": float(goal.get("far_margin", 0.0)),
                   "near": float(goal.get("near_margin", 1.0))}
        rows, verdicts = [], []
        for b in self.backbones:
            bname = b["name"]
            mine = self.per_seed(bname, rec)
            best = max(baselines, key=lambda m: mean_of(self.per_seed(bname, m)))
            best_value = mean_of(self.per_seed(bname, best))
            diff = 100 * (mean_of(mine) - best_value)
            need = -margins[b["kind"]] + 0.0  # + 0.0: no "-0.00"
            holds = diff >= need - 1e-9
            verdicts.append({"backbone": bname, "kind": b["kind"], "recipe": rec,
                             "recipe_auroc": mean_of(mine), "best_baseline": best,
                             "best_baseline_auroc": best_value, "difference_points": diff,
                             "required_points": need, "holds": holds})
            self.record("T2", bname, rec, "difference_points", diff, "mean")
            rows.append([bname, b["kind"], fmt(mine), best, fmt([best_value]), f"{diff:+.2f}",
                         f">= {need:+.2f}", "**yes**" if holds else "**no**"])
        ok = sum(v["holds"] for v in verdicts)
        text = (f"## {TITLES['T2']}\n\n"
                f"Issue 17's goal: `{rec}` reaches the best baseline's mean AUROC on far-OOD "
                f"backbones (difference >= {-margins['far'] + 0.0:.1f} points) and comes within "
                f"{margins['near']:.1f} point of it on near-OOD backbones. Mean AUROC % over the "
                f"backbone's OOD sets (T1's `mean` row); the best baseline is the one with the "
                f"highest mean on that backbone.\n\n"
                + table(["backbone", "kind", rec, "best baseline", "its AUROC",
                         "difference (points)", "required", "goal holds"], rows)
                + f"\nThe goal holds on {ok} of {len(verdicts)} backbone(s)"
                + ("." if ok == len(verdicts) else ": not on " + ", ".join(
                    v["backbone"] for v in verdicts if not v["holds"]) + ".") + "\n")
        return text, verdicts

    def t3(self, recipes):
        goal = self.config.get("goal", {})
        reference = goal.get("reference", "paper")
        backbones = self.ablation_backbones()
        kinds = [k for k in ("far", "near") if any(b["kind"] == k for b in backbones)]
        header = ["recipe"] + [b["name"] for b in backbones] + [f"mean {k}" for k in kinds]
        rows = []
        ref = {b["name"]: mean_of(self.per_seed(b["name"], reference))
               for b in backbones} if reference in recipes else {}
        for r in recipes:
            row = [f"`{r}`"]
            for b in backbones:
                v = self.per_seed(b["name"], r)
                cell = fmt(v)
                if ref and r != reference:
                    cell += f" ({100 * (mean_of(v) - ref[b['name']]):+.2f})"
                row.append(cell)
                self.record("T3", b["name"], r, "auroc", mean_of(v), "mean")
            for k in kinds:
                mine = [b for b in backbones if b["kind"] == k]
                per_seed = [mean_of([self.per_seed(b["name"], r)[i] for b in mine])
                            for i in range(len(self.seeds))]
                cell = fmt(per_seed)
                if ref and r != reference:
                    cell += f" ({100 * (mean_of(per_seed) - mean_of([ref[b['name']] for b in mine])):+.2f})"
                row.append(cell)
                self.record("T3", k, r, "auroc", mean_of(per_seed), "mean")
            rows.append(row)
        return (f"## {TITLES['T3']}\n\n"
                f"Mean AUROC % over each backbone's OOD sets ({len(self.seeds)} seed(s)); in "
                f"brackets the difference to `{reference}`. `mean far` / `mean near`: the mean "
                "over the far-OOD / near-OOD backbones (per seed, then over the seeds). The "
                "exact `oodflow train` arguments of every recipe are listed at the end.\n\n"
                + table(header, rows))

    # -- T4: training budget

    def t4(self):
        cfg = self.config.get("budget", {})
        names = cfg.get("backbones") or [b["name"] for b in self.config["backbones"]]
        backbones = [self.by_name[n] for n in names if n in self.by_name]
        seeds = [int(s) for s in cfg.get("seeds", [self.seeds[0]])]
        max_steps = int(cfg["max_steps"])
        steps = sorted({int(s) for s in cfg["snapshot_steps"] if 0 <= int(s) <= max_steps})
        extra = ["--steps", str(max_steps), "--snapshot-steps", ",".join(map(str, steps)),
                 "--eval-fraction", str(cfg.get("eval_fraction", 0.05)),
                 "--eval-every", str(cfg.get("eval_every", 10))]
        results = {}
        jobs = [(r, b, s) for r in cfg["recipes"] for b in backbones for s in seeds]
        for i, (r, b, s) in enumerate(jobs, 1):
            bname = b["name"]
            sets = self.sets(b)
            what = f"{bname}/{r} seed {s} ({max_steps} steps)"
            stem = os.path.join(self.models, bname, f"budget.{r}.seed{s}")
            model = stem + ".safetensors"
            args = with_options(self.recipe(r, quick_options=False), extra + ["--seed", str(s)])
            record, made = self.make(model, ["train", "--features", sets["id_train"], *args],
                                     what)
            self.log(f"T4 [{i}/{len(jobs)}] {what}: "
                     + (f"made in {record['seconds']:.0f} s" if made else "reused")
                     + f"; scoring {len(steps)} snapshots")
            self.cost((bname, f"T4 {r}", s), model, record)
            summary = train_summary(model)
            for step in steps:
                snapshot = f"{stem}.step{step}.safetensors"
                if not os.path.exists(snapshot):
                    if step != max_steps:
                        raise BenchmarkError(f"train {what} wrote no snapshot '{snapshot}' "
                                             "(an oodflow without --snapshot-steps?)")
                    snapshot = model
                metrics, nll = self.score(snapshot, f"{stem}.step{step}", sets["id_test"],
                                          sets["ood"], f"{what} step {step}", id_nll=True)
                results[(r, bname, s, step)] = (metrics, nll, heldout_nll(summary, step))
        out = [f"## {TITLES['T4']}\n",
               f"Each recipe trained for {max_steps} steps (`{' '.join(extra)}`, seeds "
               f"{', '.join(map(str, seeds))}); every snapshot scored on the ID test set and the "
               "OOD sets. AUROC %; NLL in nats, lower = better fit; `held-out NLL`: the ID NLL the training measured on its "
               "held-out rows at that step (the summary's `heldout_nll`; n/a where no "
               "evaluation fell on the step); `ID test NLL`: -mean log p of the ID test set (nats; for "
               "`--base class --class-score max` the score is not the marginal density).\n"]
        for r in cfg["recipes"]:
            for b in backbones:
                bname, oods = b["name"], list(b["ood"])
                rows = []
                for step in steps:
                    cells = [str(step)]
                    for ood in oods + [None]:
                        v = [mean_of([results[(r, bname, s, step)][0][o]["auroc"]
                                      for o in ([ood] if ood else oods)]) for s in seeds]
                        cells.append(fmt(v))
                        for s, x in zip(seeds, v):
                            self.record("T4", bname, r, "auroc", x, ood or "mean", s, step)
                    for index, metric in ((2, "heldout_nll"), (1, "id_test_nll")):
                        v = [results[(r, bname, s, step)][index] for s in seeds]
                        cells.append(fmt(v, scale=1.0, digits=3))
                        for s, x in zip(seeds, v):
                            self.record("T4", bname, r, metric, x, "id", s, step)
                    rows.append(cells)
                out.append(f"**{bname}** ({b['kind']}-OOD), `{r}`\n")
                out.append(table(["step"] + oods + ["mean", "held-out NLL", "ID test NLL"],
                                 rows))
        return "\n".join(out)

    # -- T5: cost

    def t5(self, recipes, baselines):
        methods = list(dict.fromkeys(m for (_, m, _) in self.costs))
        ordered = [m for m in recipes if m in methods] + [m for m in methods if m.startswith(
            "T4 ")] + [m for m in baselines if m in methods]
        header = ["recipe"] + [b["name"] for b in self.backbones]
        rows = []
        for m in ordered:
            row = [f"`{m[3:]}` (T4)" if m.startswith("T4 ") else f"`{m}`"]
            for b in self.backbones:
                keys = [k for k in self.costs if k[0] == b["name"] and k[1] == m]
                if not keys:
                    row.append("—")
                    continue
                if m in baselines:
                    v = [self.costs[k]["wall"] for k in keys]
                    row.append(fmt(v, 1.0, 1) + " s (fit wall)")
                    self.record("T5", b["name"], m, "fit_wall_seconds", mean_of(v))
                    continue
                secs = [self.costs[k]["seconds"] for k in keys]
                steps = [self.costs[k]["steps"] for k in keys]
                rate = [self.costs[k]["samples_per_second"] for k in keys]
                row.append(f"{fmt(secs, 1.0, 1)} s, {mean_of(steps):.0f} steps, "
                           f"{mean_of(rate):.0f}/s")
                for k in keys:
                    self.record("T5", b["name"], m, "train_seconds", self.costs[k]["seconds"],
                                seed=k[2])
            rows.append(row)
        return (f"## {TITLES['T5']}\n\n"
                "Flows: training seconds from the model file's summary (the training loop, "
                "mean ± sd over the seeds), steps and samples/s; the (T4) rows are T4's runs "
                "(with their held-out evaluations and snapshots). Baselines: the wall seconds "
                "of `oodflow fit` (loading included), as measured when the model was made; "
                "a reused model keeps the seconds of the run that made it. Measured on a "
                "machine that may be shared: compare within a column.\n\n"
                + table(header, rows))

    # -- T7: seed ensembles

    def ensemble_metrics(self, b, recipe):
        """{k: {ood: metrics}} of the ensembles of the first k seeds' flows of RECIPE on
        backbone B (k = 2 .. number of seeds): mean log-density, then `oodflow metrics`.
        The first seed alone goes the same way and must give its own report's AUROC."""
        bname, sets = b["name"], self.sets(b)
        models = [os.path.join(self.models, bname, f"{recipe}.seed{s}.safetensors")
                  for s in self.seeds]
        stem = os.path.join(self.models, bname, f"ensemble.{recipe}")
        command = ["score", *[x for m in models for x in ("--model", m)],
                   "--id", sets["id_test"],
                   *[x for name, path in sets["ood"].items() for x in ("--ood", f"{name}={path}")]]
        key = fingerprint(command)
        record = read_json(stem + ".json", {})
        if record.get("score") == key:
            return {int(k): v for k, v in record["results"].items()}
        what = f"{bname}/{recipe} ensemble of {len(models)} seeds"
        self.log(f"  score {what}")
        scores = stem + ".scores.csv"
        run([self.oodflow, "--quiet", *command, "--scores", scores], f"score {what}")
        with open(scores, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            if len(header) != 3 + len(models):
                raise BenchmarkError(f"'{scores}': expected {3 + len(models)} columns "
                                     f"(set, index, source, one per flow), found {len(header)}")
            rows = list(reader)
        names = [r[0] for r in rows]
        log_density = np.array([[float(x) for x in r[3:]] for r in rows], dtype=np.float64)
        os.remove(scores)
        results = {}
        for k in range(1, len(models) + 1):  # k = 1: a check of the averaging path
            mean = log_density[:, :k].mean(axis=1)
            path = f"{stem}.k{k}.csv"
            with open(path, "w", newline="") as f:
                writer = csv.writer(f, lineterminator="\n")
                writer.writerow(["set", "score"])
                writer.writerows((n, repr(float(v))) for n, v in zip(names, mean))
            report = f"{stem}.k{k}.report.json"
            run([self.oodflow, "--quiet", "metrics", "--id", path,
                 *[x for name in sets["ood"] for x in ("--ood", f"{name}={path}")],
                 "--out", report],
                f"metrics {what}, k = {k}")
            os.remove(path)
            results[k] = ood_metrics(report)
        alone = self.grid[(bname, recipe, self.seeds[0])]
        for name in sets["ood"]:
            if abs(results[1][name]["auroc"] - alone[name]["auroc"]) > 1e-6:
                raise BenchmarkError(
                    f"{what}: seed {self.seeds[0]} alone through the ensemble path gives AUROC "
                    f"{results[1][name]['auroc']:.6f} on {name}, its own report "
                    f"{alone[name]['auroc']:.6f}: the score columns are misread")
        del results[1]
        write_json(stem + ".json", {"score": key,
                                    "results": {str(k): v for k, v in results.items()}})
        return results

    def t7(self, baselines):
        recipes = self.config.get("ensemble", {}).get("recipes", [])
        sizes = list(range(2, len(self.seeds) + 1))
        header = (["backbone", "recipe", f"one flow (mean ± sd of {len(self.seeds)})"]
                  + [f"ensemble of {k}" for k in sizes]
                  + [f"gain of {sizes[-1] if sizes else 1} (points)", "best baseline",
                     "training seconds (one flow)"])
        rows = []
        for b in self.backbones:
            bname, oods = b["name"], list(b["ood"])
            best = max(baselines, key=lambda m: mean_of(self.per_seed(bname, m))) \
                if baselines else None
            for r in recipes:
                single = self.per_seed(bname, r)
                results = self.ensemble_metrics(b, r) if sizes else {}
                cells = [bname, f"`{r}`", fmt(single)]
                for k in sizes:
                    for ood in oods:
                        self.record("T7", bname, r, "auroc", results[k][ood]["auroc"], ood,
                                    step=f"k={k}")
                    value = mean_of([results[k][o]["auroc"] for o in oods])
                    self.record("T7", bname, r, "auroc", value, "mean", step=f"k={k}")
                    cells.append(fmt([value]))
                gain = (100 * (mean_of([results[sizes[-1]][o]["auroc"] for o in oods])
                               - mean_of(single)) if sizes else 0.0)
                cells.append(f"{gain:+.2f}")
                cells.append(f"{best} {fmt(self.per_seed(bname, best))}" if best else "—")
                seconds = [self.costs[(bname, r, s)]["seconds"] for s in self.seeds
                           if (bname, r, s) in self.costs]
                cells.append(fmt(seconds, 1.0, 1))
                rows.append(cells)
        return (f"## {TITLES['T7']}\n\n"
                "Mean AUROC % over each backbone's OOD sets. An ensemble of k flows (the "
                "same recipe, seeds "
                f"{', '.join(map(str, self.seeds))}, the first k of them) scores a sample by "
                "the mean of the k log-densities; it costs k times one flow's training and "
                "scoring. `gain`: the largest ensemble minus the mean single flow. Nothing "
                "here is trained: T1's flows are scored together and their per-sample scores "
                "averaged.\n\n" + table(header, rows))

    # -- T6: ID-only selection proxy

    def subset_files(self, backbone, c):
        """Leave-one-class-out feature files of class c: train (labels != c, renumbered),
        test_in (ID test label != c) and test_out (ID test label == c)."""
        sets = self.sets(backbone)
        folder = os.path.join(self.out, "selection", backbone["name"])
        os.makedirs(folder, exist_ok=True)
        paths = {}
        for part, source in (("train", sets["id_train"]), ("test_in", sets["id_test"]),
                             ("test_out", sets["id_test"])):
            key = os.path.splitext(os.path.basename(source))[0]
            path = os.path.join(folder, f"{key}.{part}.class{c}.safetensors")
            paths[part] = path
            if os.path.exists(path):
                continue
            tensors, metadata = self.loaded(source)
            labels = tensors.get("labels")
            if labels is None:
                raise BenchmarkError(f"T6 needs labels: '{source}' ({backbone['name']}) has none")
            keep = labels == c if part == "test_out" else labels != c
            subset = {"features": tensors["features"][keep]}
            if part == "train":
                remaining = sorted(set(np.unique(labels).tolist()) - {c})
                lookup = np.full(int(labels.max()) + 1, -1, dtype=np.int64)
                lookup[remaining] = np.arange(len(remaining))
                subset["labels"] = lookup[labels[keep]]
            else:
                subset["labels"] = labels[keep]
            if "sources" in tensors:
                names = bytes(tensors["sources"]).decode("utf-8").split("\n")
                kept = [n for n, k in zip(names, keep) if k]
                subset["sources"] = np.frombuffer("\n".join(kept).encode("utf-8"), dtype=np.uint8)
            meta = {k: v for k, v in metadata.items() if k != "aux_scores"}
            meta["count"] = str(int(keep.sum()))
            meta["subset"] = json.dumps({
                "of": os.path.basename(source), "rows": "label == %d" % c if part == "test_out"
                else "label != %d" % c, "labels": "renumbered 0..K-2 in order" if part == "train"
                else "as in the source", "dropped": "logits and auxiliary scores",
                "producer": "scripts/flow_study.py (T6, leave one class out)"})
            save_safetensors(path, subset, meta)
        return paths

    def loaded(self, path):
        """A feature file as ({tensor: array}, metadata); the last two read stay in memory."""
        if path not in self.arrays:
            if len(self.arrays) >= 2:
                del self.arrays[next(iter(self.arrays))]
            self.arrays[path] = load_safetensors(path)
        return self.arrays[path]

    def classes(self, backbone):
        configured = (self.config.get("selection", {}).get("classes") or {}).get(backbone["name"])
        if configured is not None:
            return [int(c) for c in configured]
        tensors, _ = self.loaded(self.sets(backbone)["id_train"])
        if "labels" not in tensors:
            raise BenchmarkError(f"T6 needs labels in the ID training features of "
                                 f"'{backbone['name']}'")
        return sorted(int(c) for c in np.unique(tensors["labels"]))

    def t6(self, grid_recipes):
        cfg = self.config.get("selection", {})
        recipes = list(cfg["recipes"])
        backbones = [self.by_name[n] for n in cfg["backbones"] if n in self.by_name]
        if not backbones:
            return (f"## {TITLES['T6']}\n\nNo selection backbone is available.\n", None)
        seeds = [int(s) for s in cfg.get("seeds", self.seeds)]
        options = [str(x) for x in cfg.get("options", [])]
        classes = {b["name"]: self.classes(b) for b in backbones}
        jobs = [(b, c, r, s) for b in backbones for c in classes[b["name"]] for r in recipes
                for s in seeds]
        results = {}
        for i, (b, c, r, s) in enumerate(jobs, 1):
            bname = b["name"]
            files = self.subset_files(b, c)
            what = f"{bname}/{r} without class {c} seed {s}"
            stem = os.path.join(self.models, bname, "selection", f"{r}.class{c}.seed{s}")
            model = stem + ".safetensors"
            args = with_options(with_options(self.recipe(r), options, replace=False),
                                ["--seed", str(s)])
            record, made = self.make(model, ["train", "--features", files["train"], *args],
                                     what)
            metrics, nll = self.score(model, stem, files["test_in"],
                                      {f"class{c}": files["test_out"]}, what, id_nll=True)
            self.log(f"T6 [{i}/{len(jobs)}] {what}: "
                     + (f"made in {record['seconds']:.0f} s" if made else "reused")
                     + f", proxy AUROC {100 * metrics[f'class{c}']['auroc']:.2f}")
            summary = train_summary(model)
            results[(bname, c, r, s)] = {
                "auroc": metrics[f"class{c}"]["auroc"], "id_nll": nll,
                "heldout_nll": heldout_nll(summary),
                "seconds": summary.get("seconds", record.get("seconds", math.nan))}
            for metric, value in results[(bname, c, r, s)].items():
                self.record("T6", bname, r, metric, value, "id_test", s, class_=c)

        def per_seed(r, metric, bnames=None):
            """Per seed: the mean over the backbones (and their classes) of one metric."""
            bnames = bnames or [b["name"] for b in backbones]
            return [mean_of([mean_of([results[(bn, c, r, s)][metric] for c in classes[bn]])
                             for bn in bnames]) for s in seeds]

        out = [f"## {TITLES['T6']}\n",
               "Columns: the class c left out (label, and its name from the backbone's .pt.json). "
               "For each class c of a selection backbone: the recipe is trained on the ID "
               "training rows of the other classes (labels renumbered) and scores the ID test "
               "set; AUROC % of the test rows of the other classes (positive) against those of "
               "class c (negative). No OOD set is used. Every T6 run adds "
               f"`{' '.join(options) or '(nothing)'}` unless its recipe sets these options. "
               f"Seed(s) {', '.join(map(str, seeds))}: mean ± sample sd over them. `held-out "
               "NLL`: the summary's held-out ID NLL (at best_step, else the last evaluation); "
               "`ID NLL`: -mean log p of the positive test rows (nats; only comparable between "
               "recipes with the same --normalize).\n"]
        for b in backbones:
            bname = b["name"]
            names = class_names(b)
            header = ["recipe"] + [f"{c} {names.get(c, '')}".strip() for c in classes[bname]] + [
                "mean", "held-out NLL", "ID NLL", "seconds"]
            rows = []
            for r in recipes:
                cells = [f"`{r}`"] + [fmt([results[(bname, c, r, s)]["auroc"] for s in seeds])
                                      for c in classes[bname]]
                cells.append(fmt(per_seed(r, "auroc", [bname])))
                cells.append(fmt(per_seed(r, "heldout_nll", [bname]), 1.0, 3))
                cells.append(fmt(per_seed(r, "id_nll", [bname]), 1.0, 3))
                cells.append(fmt(per_seed(r, "seconds", [bname]), 1.0, 1))
                rows.append(cells)
            out.append(f"**{bname}** ({b['kind']}-OOD backbone; class(es) "
                       f"{', '.join(map(str, classes[bname]))} left out in turn)\n")
            out.append(table(header, rows))

        summary = {}
        for r in recipes:
            auroc = per_seed(r, "auroc")
            mean, sd = stats(auroc)
            summary[r] = {"proxy_auroc": mean, "seed_sd": 0.0 if sd is None else sd,
                          "seconds": mean_of(per_seed(r, "seconds")),
                          "heldout_nll": mean_of(per_seed(r, "heldout_nll"))}
        for r in recipes:
            _, nll_sd = stats(per_seed(r, "heldout_nll"))
            summary[r]["nll_seed_sd"] = 0.0 if nll_sd is None else nll_sd
        # The criterion: "heldout_nll" (lowest wins) or "proxy_auroc" (highest wins); the
        # other one is shown and its own pick named, so that a reader sees where they part.
        criterion = cfg.get("criterion", "proxy_auroc")

        def pick_by(key, sd_key, higher):
            sign = 1 if higher else -1
            best = max(recipes, key=lambda r: sign * summary[r][key])
            tied = [r for r in recipes if sign * (summary[best][key] - summary[r][key])
                    <= max(summary[best][sd_key], summary[r][sd_key]) + 1e-12]
            return min(tied, key=lambda r: (summary[r]["seconds"], recipes.index(r))), tied

        by_proxy, tied_proxy = pick_by("proxy_auroc", "seed_sd", True)
        by_nll, tied_nll = pick_by("heldout_nll", "nll_seed_sd", False)
        pick, tied = (by_nll, tied_nll) if criterion == "heldout_nll" else (by_proxy, tied_proxy)
        rows = []
        for r in recipes:
            ood = "—"
            if r in grid_recipes:
                ood = fmt([mean_of([mean_of(self.per_seed(b["name"], r)) for b in backbones])])
            tag = "**picked**" if r == pick else ("tied" if r in tied else "")
            rows.append([f"`{r}`", fmt(per_seed(r, "auroc")),
                         fmt(per_seed(r, "heldout_nll"), 1.0, 3),
                         fmt(per_seed(r, "seconds"), 1.0, 1), ood, tag])
            self.record("T6", "all", r, "proxy_auroc", summary[r]["proxy_auroc"], "mean")
        goal = self.config.get("goal", {}).get("recipe", "recommended")
        same = pick == goal or (goal in self.config["recipes"] and
                                recipe_signature(self.config["recipes"][pick]) ==
                                recipe_signature(self.config["recipes"][goal]))
        measure = ("the lowest mean held-out ID NLL" if criterion == "heldout_nll" else
                   "the highest mean proxy AUROC")
        rule = (f"**Selection rule** (config `selection.criterion` = `{criterion}`): the recipe "
                f"with {measure} (over the selection backbones, their left-out classes and the "
                "seeds) is the candidate; every recipe whose mean is within the seed spread of "
                "it (the larger sample sd over the seeds of the two; with one seed only an "
                "exact tie) ties with it, and of the tied recipes the one with the lowest mean "
                "training seconds is picked.")
        out.append(f"**Summary** over {', '.join(b['name'] for b in backbones)}: proxy AUROC % "
                   "(mean ± seed sd), held-out NLL, training seconds; `OOD AUROC`: the mean over "
                   "the same backbones of T1/T3's mean AUROC on the real OOD sets, where this "
                   "run computed it (for comparison only; not used to pick)\n")
        out.append(table(["recipe", "proxy AUROC", "held-out NLL", "seconds", "OOD AUROC",
                          "selection"], rows))
        out.append(rule + "\n")
        out.append(f"By held-out NLL the pick would be `{by_nll}`; by the proxy AUROC, "
                   f"`{by_proxy}`.\n")
        out.append(f"The rule picks **`{pick}`** (tied: {', '.join(f'`{r}`' for r in tied)}); "
                   f"the config's `{goal}` recipe is "
                   + ("the same recipe.\n" if same else "a different one.\n"))
        return "\n".join(out), {"pick": pick, "tied": tied, "summary": summary, "rule": rule,
                                "by_nll": by_nll, "by_proxy": by_proxy}

    # -- the whole study

    def recipe_list(self, only):
        """Every recipe and baseline of this run with its exact arguments (--quick applied)."""
        names = set(used_recipes(self.config, only))
        budget = set(self.config.get("budget", {}).get("recipes", [])) if "T4" in only else set()
        rows = []
        for name in self.config["recipes"]:
            if name in names:
                args = [str(a) for a in self.config["recipes"][name]]
                if self.quick and name not in budget:
                    args = with_options(args, self.config.get("train_options", []))
                rows.append([f"`{name}`", "`train " + " ".join(args) + "`"])
        if {"T1", "T2", "T5", "T7"} & only:
            rows += [[f"`{n}` (baseline)", "`fit " + " ".join(map(str, a)) + "`"]
                     for n, a in self.config["baselines"].items()]
        return table(["recipe", "arguments"], rows)


def grid_recipes(config, only):
    """The recipes trained on every backbone and seed for T1, T2, T3 and T5."""
    goal = config.get("goal", {})
    recipes = []
    if {"T1", "T5"} & only:
        recipes += config.get("main", [])
    if "T2" in only:
        recipes.append(goal.get("recipe", "recommended"))
    if "T7" in only:
        recipes += config.get("ensemble", {}).get("recipes", [])
    if {"T3", "T5"} & only:
        recipes += config.get("ablation", []) + [goal.get("reference", "paper")]
    return list(dict.fromkeys(recipes))


def used_recipes(config, only):
    used = grid_recipes(config, only)
    if "T4" in only:
        used += config.get("budget", {}).get("recipes", [])
    if "T6" in only:
        used += config.get("selection", {}).get("recipes", [])
    return list(dict.fromkeys(used))


def class_names(backbone):
    """{label: name} from the backbone's <model>.json (scripts/train_backbone.py writes one)."""
    info = read_json(resolve(ROOT, backbone["model"]) + ".json", {}) or {}
    return {int(c["index"]): c["name"] for c in info.get("classes", [])
            if isinstance(c, dict) and "index" in c and "name" in c}


def check_config(config, only):
    for key in ("backbones", "seeds", "recipes", "baselines"):
        if not config.get(key):
            raise BenchmarkError(f"the config needs a non-empty \"{key}\"")
    both = set(config["recipes"]) & set(config["baselines"])
    if both:
        raise BenchmarkError(f"names used for a recipe and a baseline: {', '.join(sorted(both))}")
    for name in sorted(set(used_recipes(config, only))):
        if name not in config["recipes"]:
            raise BenchmarkError(f"recipe '{name}' is used but not defined in \"recipes\"")
        path = option_value(config["recipes"][name], "--config")
        if path and not os.path.exists(resolve(ROOT, path)):
            raise BenchmarkError(f"recipe '{name}': its --config '{path}' does not exist")
    if "T4" in only:
        for key in ("recipes", "max_steps", "snapshot_steps"):
            if not config.get("budget", {}).get(key):
                raise BenchmarkError(f"T4 needs \"budget\": {{\"{key}\": ...}}")
    if "T6" in only:
        for key in ("recipes", "backbones"):
            if not config.get("selection", {}).get(key):
                raise BenchmarkError(f"T6 needs \"selection\": {{\"{key}\": ...}}")


def apply_quick(config):
    quick = config.get("quick", {})
    out = dict(config)
    if "seeds" in quick:
        out["seeds"] = quick["seeds"]
    if "backbones" in quick:
        out["backbones"] = [b for b in config["backbones"] if b["name"] in quick["backbones"]]
    out["train_options"] = quick.get("train_options", [])
    if "baselines" in quick:
        out["baselines"] = {n: a for n, a in config["baselines"].items() if n in quick["baselines"]}
    for key in ("budget", "selection"):
        if key in quick:
            out[key] = merge(config.get(key, {}), quick[key])
    return out


def write_outputs(study, config, args, only, sections, extras, stem):
    path_md, path_csv, path_json = (os.path.join(study.out, stem + ext)
                                    for ext in (".md", ".csv", ".json"))
    version = run([study.oodflow, "--version"], "oodflow --version").stdout.strip()
    head = [f"# Flow study (issue 17){' — quick mode' if study.quick else ''}\n",
            f"Made by `scripts/flow_study.py --config {args.config}"
            + (" --quick" if study.quick else "") + (f" --only {','.join(sorted(only))}"
                                                     if len(only) < len(TABLES) else "")
            + f"` with {version}. Backbones: "
            + ", ".join(f"{b['name']} ({b['kind']}-OOD: {', '.join(b['ood'])})"
                        for b in study.backbones)
            + f". Seeds: {', '.join(map(str, study.seeds))}. Features extracted without "
            "`--odin`: **ODIN is not part of this study** (it needs the images; see "
            "docs/benchmarks.md for it).\n"]
    if study.skipped:
        head.append("Skipped with a warning: " + "; ".join(study.skipped) + ".\n")
    if len(only) < len(TABLES):
        head.append(f"Tables of this run: {', '.join(t for t in TABLES if t in only)} (the "
                    "others need a run without --only).\n")
    if study.quick:
        head.append("**Quick mode**: a smoke test (few steps, one seed); its numbers say "
                    "nothing about the recipes.\n")
    body = "\n".join(head) + "\n" + "\n".join(sections[t] for t in TABLES if t in sections)
    body += "\n## Recipes and baselines\n\nThe `oodflow train` / `oodflow fit` arguments as run " \
            "(--features, --out and --seed are added per run):\n\n" + study.recipe_list(only)
    with open(path_md, "w") as f:
        f.write(body)
    with open(path_csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for row in study.raw:
            writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v)
                             for k, v in row.items()})
    write_json(path_json, {"config": config, "quick": study.quick, "tables": sorted(only),
                           "oodflow": version, "skipped": study.skipped, **extras,
                           "raw": [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                                    for k, v in row.items()} for row in study.raw]})
    return path_md, path_csv, path_json


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="The flow study of issue 17: every table (T1 main, T2 goal check, T3 "
                    "ablation, T4 training budget, T5 cost, T6 ID-only selection proxy, T7 "
                    "seed ensembles) into one Markdown file.",
        epilog="See the module docstring (head of this file) for the tables and config keys.")
    parser.add_argument("--config", required=True, help="study JSON (configs/flow_study.json)")
    parser.add_argument("--out", default=None, help="output folder (default out/flow_study, "
                                                    "out/flow_study_quick with --quick)")
    parser.add_argument("--oodflow", default=None,
                        help="the oodflow binary (default: the config's, else build/apps/oodflow)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: the config's \"quick\" overrides (1 seed, few steps, "
                             "2 backbones)")
    parser.add_argument("--only", default=None, help="comma-separated tables, e.g. T1,T6")
    args = parser.parse_args(argv)
    only = set(TABLES)
    if args.only:
        only = {t.strip().upper() for t in args.only.split(",") if t.strip()}
        unknown = only - set(TABLES)
        if unknown or not only:
            parser.error(f"--only: unknown table(s) {', '.join(sorted(unknown))}; "
                         f"choose from {','.join(TABLES)}")
    config = load_config(args.config, "flow_study")
    if config is None:
        return 2
    if args.quick:
        config = apply_quick(config)
    out_dir = os.path.abspath(args.out or os.path.join(
        ROOT, "out", "flow_study_quick" if args.quick else "flow_study"))
    oodflow = args.oodflow or config.get("oodflow") or "build/apps/oodflow"
    if args.oodflow:
        oodflow = os.path.abspath(oodflow)
    stem = "study" if only == set(TABLES) else "study-" + "-".join(t for t in TABLES if t in only)
    start = time.monotonic()
    try:
        check_config(config, only)
        study = Study(config, out_dir, oodflow, args.quick)
        baselines = list(config["baselines"])
        recipes = grid_recipes(config, only)
        grid_baselines = baselines if {"T1", "T2", "T5", "T7"} & only else []
        sections, extras, times = {}, {}, {}
        if recipes or grid_baselines:
            t0 = time.monotonic()
            study.log(f"grid: {len(study.backbones)} backbone(s) x ({len(recipes)} recipe(s) x "
                      f"{len(study.seeds)} seed(s) + {len(grid_baselines)} baseline(s))")
            study.run_grid(recipes, grid_baselines)
            times["grid"] = time.monotonic() - t0
        if "T1" in only:
            sections["T1"] = study.t1(config.get("main", []), baselines)
        if "T2" in only:
            sections["T2"], extras["goal_check"] = study.t2(baselines)
        if "T3" in only:
            sections["T3"] = study.t3(config.get("ablation", []))
        if "T4" in only:
            t0 = time.monotonic()
            sections["T4"] = study.t4()
            times["T4"] = time.monotonic() - t0
        if "T6" in only:
            t0 = time.monotonic()
            sections["T6"], extras["selection"] = study.t6(recipes)
            times["T6"] = time.monotonic() - t0
        if "T7" in only:
            sections["T7"] = study.t7(grid_baselines)
        if "T5" in only:
            sections["T5"] = study.t5(list(dict.fromkeys(
                config.get("main", []) + config.get("ablation", []))), baselines)
        paths = write_outputs(study, config, args, only, sections, extras, stem)
    except BenchmarkError as e:
        print(f"flow_study: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nflow_study: interrupted; every finished model is kept: run the same command "
              "again to continue", file=sys.stderr)
        return 130
    print()
    with open(paths[0]) as f:
        print(f.read())
    print(f"flow_study: wrote {', '.join(paths)}")
    print(f"flow_study: {study.trained} model(s) made, {study.reused} reused; features: "
          f"{study.bench.extracted} extracted, {study.bench.reused} from the cache; "
          + "".join(f"{k} {v:.0f} s, " for k, v in times.items())
          + f"wall time {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
