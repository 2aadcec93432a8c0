"""`textbooks run`: the whole recipe as stages with files between them, resumable, with the Figure 2.1 arms.

    curate -> decontaminate -> synth-textbooks, synth-exercises, synth-heldout -> tokenizer
           -> pack-raw, pack-filtered, pack-textbooks, pack-exercises
           -> pretrain-<arm> (each pretraining arm, equal token budgets) -> finetune-<arm> (from another arm)
           -> similar (Table 3 split) -> eval-<arm> -> report

Layout of the run directory DIR (every stage writes only its own paths; report.py reads them):
    run.json                    the resolved config, versions, git commit, arms, every stage's state
    stages/<stage>.json         a stage's marker: status (running | done), fingerprint, settings, result
    curate/ decontaminate/      `data curate` / `data decontaminate` runs
    synth/{textbooks,exercises,heldout}/   `synth` runs (heldout: only the held-out families)
    tokenizer/ packed/<source>/ train/<arm>/ similar/ eval/<arm>/   report.html report.json

Fingerprints: a stage's fingerprint is a hash of its settings (the config values it reads, the content of
the config files it reads, the textbooks version) and of the fingerprints of the stages it reads from. A
rerun skips a stage whose marker is `done` with the same fingerprint; a changed setting changes that stage's
fingerprint and so every later stage's (their outputs are removed and made again); a stage whose marker is
`running` with the same fingerprint was interrupted and resumes in place (data verbs, synthesis, generation
and training all resume from what they wrote; training from its last checkpoint). Inputs are fingerprinted
by path (and size + mtime for files), not by content: hashing a corpus of millions of files on every rerun
would cost more than the stages it saves; rerun with `--from curate` after editing files in place.

Arms are equal by construction: the pipeline derives every pretraining arm's steps from `pretrain.tokens`
and the train config's batch and sequence length, so they see the same number of tokens and differ only in
data (`plan_tokens`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from textbooks import guard
from textbooks.pipeline.config import PipelineConfig

FORMAT = "textbooks.pipeline"
STAGE_KINDS = ("curate", "decontaminate", "synth", "tokenizer", "pack", "pretrain", "finetune", "similar",
               "eval", "report")


class PipelineError(guard.CommandError):
    """A stage failed or the run cannot continue; the message names the stage and where to look."""


@dataclass
class Stage:
    name: str  # "curate", "pack-filtered", "pretrain-raw", ...
    kind: str  # one of STAGE_KINDS
    settings: dict[str, Any]  # what the fingerprint covers besides the upstream fingerprints
    deps: list[str]  # stages whose outputs this one reads
    outputs: list[str]  # paths relative to DIR this stage owns (removed when its fingerprint changes)
    run: Callable[["Context", "Stage"], dict[str, Any]]
    arm: str | None = None
    fingerprint: str = ""
    action: str = ""  # after planning: run | resume | skip
    reason: str = ""


@dataclass
class Context:
    config: PipelineConfig
    dir: Path
    repo: Path | None
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # stage name -> its marker's result
    progress: bool = True

    def path(self, rel: str) -> Path:
        return self.dir / rel


# --------------------------------------------------------------------------------------------- helpers
def repo_root() -> Path | None:
    """The source checkout holding configs/ (None for an installed wheel)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "configs").is_dir() else None


def resolve_shipped(path: str | None, repo: Path | None) -> Path | None:
    """A config path as written (relative to the cwd), else relative to the repository (configs/...)."""
    if path is None:
        return None
    p = Path(path)
    if not p.is_absolute() and not p.exists() and repo is not None and (repo / p).exists():
        p = repo / p
    return p.resolve() if p.exists() else p  # one spelling, whatever the cwd (fingerprints compare it)


def file_digest(path: Path | None) -> str | None:
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def input_identity(paths: list[str]) -> list[Any]:
    """What the fingerprint knows of the corpus: resolved paths, and size + mtime of plain files."""
    out: list[Any] = []
    for p in paths:
        path = Path(p)
        if path.is_file():
            st = path.stat()
            out.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
        else:
            out.append(str(path.resolve()) if path.exists() else str(path))
    return out


def fingerprint(stage: Stage, upstream: dict[str, str], roots: dict[str, Path | None] | None = None) -> str:
    """`roots`: directories whose absolute path must not count ({"<repo>": checkout, "<run>": DIR}), so a
    moved checkout or run directory keeps its fingerprints (the config files' contents still count)."""
    from textbooks import __version__

    blob = json.dumps({"stage": stage.name, "settings": stage.settings, "version": __version__,
                       "deps": {d: upstream[d] for d in stage.deps}}, sort_keys=True, default=str)
    for name, root in sorted((roots or {}).items(), key=lambda kv: -len(str(kv[1] or ""))):
        if root is not None:
            blob = blob.replace(json.dumps(str(Path(root).resolve()))[1:-1], name)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def corpus_inputs(config: PipelineConfig) -> list[str]:
    from textbooks.data.sources import default_corpus_paths

    out: list[str] = []
    for item in config.corpus.inputs:
        if item == "embedded":
            out.extend(str(p) for p in default_corpus_paths())
        else:
            out.append(item)
    return out


def _cli(argv: list[str], stage: Stage) -> None:
    """Run a textbooks command in this process (its own guard prints its error); a failure stops the run."""
    from textbooks.cli import main as textbooks_main

    print(f"$ textbooks {' '.join(argv)}", flush=True)
    rc = textbooks_main(argv)
    if rc == 130:
        raise KeyboardInterrupt
    if rc != 0:
        raise PipelineError(f"stage {stage.name} failed: `textbooks {' '.join(argv)}` exited {rc} (see above)")


def _shards(directory: Path) -> list[str]:
    """The datatrove JSONL shards of a verb's output/ (flat) or removed/ (one folder per step)."""
    return sorted(str(p) for p in directory.rglob("*.jsonl.gz"))


def train_batch(train_cfg) -> tuple[int, int]:
    """(sequences per optimizer step, seq_len) of a train config on its own (world size 1 unless the global
    batch is given, which is what the trainer keeps fixed across world sizes)."""
    t = train_cfg.trainer
    gbs = t.global_batch_size or t.micro_batch_size * (t.grad_accum_steps or 1)
    return gbs, train_cfg.data.seq_len


def plan_tokens(train_cfg, tokens: int) -> dict[str, int]:
    """Steps and schedule for a token budget: steps = ceil(tokens / (batch x seq_len)); warmup and the stop
    point keep the config's fractions of its schedule (phi-1-base stops at 24k of a 36k-step schedule)."""
    gbs, seq = train_batch(train_cfg)
    steps = max(1, math.ceil(tokens / (gbs * seq)))
    s = train_cfg.schedule
    stop_fraction = (s.stop_step if s.stop_step is not None else s.decay_steps) / s.decay_steps
    decay = max(steps, math.ceil(steps / stop_fraction))
    warmup = min(steps, max(1, round(s.warmup_steps / s.decay_steps * decay)))
    return {"steps": steps, "decay_steps": decay, "warmup_steps": warmup, "batch": gbs, "seq_len": seq,
            "tokens": steps * gbs * seq}


# --------------------------------------------------------------------------------------------- stages
def _curate(ctx: Context, st: Stage) -> dict:
    c = ctx.config
    argv = ["data", "curate", *corpus_inputs(c), "--out", str(ctx.path("curate")), "--annotator", c.curate.annotator,
            "--executor", c.curate.executor]
    if st.settings["config_file"]:
        argv += ["--config", st.settings["config_file"]]
    if c.corpus.max_files is not None:
        argv += ["--set", f"read.max_units={c.corpus.max_files}"]
    for s in c.curate.set:
        argv += ["--set", s]
    if c.curate.workers:
        argv += ["--workers", str(c.curate.workers)]
    _cli(argv, st)
    return {"stats": "curate/stats.json"}


def _decontaminate(ctx: Context, st: Stage) -> dict:
    c, d = ctx.config, ctx.config.decontaminate
    argv = ["data", "decontaminate", str(ctx.path("curate/output")), "--out", str(ctx.path("decontaminate")),
            "--benchmarks", ",".join(d.benchmarks), "--methods", ",".join(d.methods), "--tau", str(d.tau),
            "--executor", c.curate.executor]
    if d.featurizer:
        argv += ["--featurizer", d.featurizer]
    if st.settings["config_file"]:
        argv += ["--config", st.settings["config_file"]]
    _cli(argv, st)
    return {"stats": "decontaminate/stats.json"}


def filtered_dir(ctx: Context) -> Path:
    """The curated code every filtered arm reads: decontaminated when that stage runs."""
    return ctx.path("decontaminate/output" if ctx.config.decontaminate.enabled else "curate/output")


def _synth(kind: str, which: str) -> Callable[[Context, Stage], dict]:
    def run(ctx: Context, st: Stage) -> dict:
        s = ctx.config.synth
        out = ctx.path(f"synth/{which}")
        n = {"textbooks": s.textbooks, "exercises": s.exercises, "heldout": s.heldout}[which]
        argv = ["synth", kind, "--teacher", s.teacher, "--n", str(n), "--seed", str(st.settings["seed"]),
                "--out", str(out), "--no-progress"]
        if s.model:
            argv += ["--model", s.model]
        isolation = ctx.config.eval.isolation
        argv += ["--set", f"verify.isolation={'auto' if isolation in ('auto', 'bwrap') else 'process'}"]
        for item in s.set:
            argv += ["--set", item]
        if which in ("exercises", "heldout") and s.holdout_families:
            names = ctx.path("stages/holdout-families.txt")
            names.parent.mkdir(parents=True, exist_ok=True)
            guard.atomic_write_text(names, "".join(f"{n}\n" for n in s.holdout_families))
            argv += ["--holdout-families" if which == "exercises" else "--families", str(names)]
        if which == "exercises" and s.mine and s.teacher == "offline":
            argv += ["--mine-from", str(filtered_dir(ctx))]
        _cli(argv, st)
        _cli(["synth", "report", str(out)], st)  # diversity numbers for the run's report (a few seconds)
        return {"records": f"synth/{which}/{kind}.jsonl"}

    return run


def _tokenizer(ctx: Context, st: Stage) -> dict:
    from textbooks.tokenizer import load_tokenizer, train_tokenizer

    t = ctx.config.tokenizer
    out = ctx.path("tokenizer")
    if t.path:
        shutil.copytree(t.path, out, dirs_exist_ok=True)
    else:
        # One tokenizer for every arm, trained on everything any arm reads: no arm's data tokenizes better
        # because the tokenizer was fit to it alone.
        inputs = [*_shards(ctx.path("curate/output")), *_shards(ctx.path("curate/removed"))]
        for which, kind in (("textbooks", "textbooks"), ("exercises", "exercises")):
            f = ctx.path(f"synth/{which}/{kind}.jsonl")
            if f.is_file():
                inputs.append(str(f))
        print(f"training a byte-level BPE (vocab {t.vocab_size}) on {len(inputs)} files", flush=True)
        train_tokenizer(inputs, vocab_size=t.vocab_size, out_dir=out, max_files=t.max_files)
    tok = load_tokenizer(out)
    return {"vocab_size": tok.vocab_size, "padded_vocab_size": tok.padded_vocab_size}


def _pack(source: str) -> Callable[[Context, Stage], dict]:
    def run(ctx: Context, st: Stage) -> dict:
        from textbooks.data.pack import pack

        if source == "raw":  # the same documents curation read, before any of its steps: kept + removed
            inputs = [*_shards(ctx.path("curate/output")), *_shards(ctx.path("curate/removed"))]
        elif source == "filtered":
            inputs = _shards(filtered_dir(ctx))
        else:
            inputs = [str(ctx.path(f"synth/{source}/{source}.jsonl"))]
        if not inputs:
            raise PipelineError(f"stage {st.name}: no documents to pack for {source!r} (the stage before it kept none)")
        out = ctx.path(f"packed/{source}")
        shutil.rmtree(out, ignore_errors=True)  # pack writes a fresh directory; an interrupted one is redone
        meta = pack(inputs, tokenizer=ctx.path("tokenizer"), out=out,
                    loss_on="completion" if source == "exercises" else "all", progress=ctx.progress)
        return {"documents": meta.get("documents"), "tokens": meta.get("tokens"),
                "splits": {k: v.get("tokens") for k, v in meta.get("splits", {}).items()}}

    return run


def base_train_config(ctx: Context, kind: str):
    """The train config of the `pretrain` or `finetune` section with its `set` list, before the pipeline's own
    overrides (what the budget is planned from); one loader, so every caller names a bad key the same way."""
    from textbooks.train import load_config

    section = ctx.config.finetune if kind == "finetune" else ctx.config.pretrain
    return _load_section_config(load_config, resolve_shipped(section.config, ctx.repo), section.set, kind)


def train_config_for(ctx: Context, st: Stage):
    """The resolved TrainConfig of a pretrain/finetune stage (data, run dir, schedule from the budget)."""
    from textbooks.train import load_config

    c = ctx.config
    arm = c.arm(st.arm)
    section = c.finetune if st.kind == "finetune" else c.pretrain
    entries = arm.finetune if st.kind == "finetune" else arm.pretrain
    path = resolve_shipped(section.config, ctx.repo)
    base = base_train_config(ctx, st.kind)
    budget = plan_tokens(base, section.tokens)
    datasets = "[" + ", ".join(json.dumps({"path": str(ctx.path(f"packed/{e.source}")), "weight": e.weight})
                               for e in entries) + "]"
    overrides = [*section.set, f"data.datasets={datasets}", f"data.val=[{', '.join(json.dumps(str(ctx.path(f'packed/{e.source}'))) for e in entries)}]",
                 f"trainer.run_dir={json.dumps(str(ctx.path(f'train/{arm.name}')))}",  # quoted: '#', ': ' in names
                 f"schedule.decay_steps={budget['decay_steps']}", f"schedule.stop_step={budget['steps']}",
                 f"schedule.warmup_steps={budget['warmup_steps']}",
                 f"trainer.checkpoint_every={min(base.trainer.checkpoint_every, budget['steps'])}",
                 f"data.tokenizer={json.dumps(str(ctx.path('tokenizer')))}", "trainer.max_minutes=null"]
    if base.trainer.val_every:
        overrides.append(f"trainer.val_every={min(base.trainer.val_every, budget['steps'])}")
    if st.kind == "finetune":
        src = ctx.results.get(f"pretrain-{arm.from_arm}") or ctx.results.get(f"finetune-{arm.from_arm}") or {}
        if not src.get("checkpoint"):
            raise PipelineError(f"stage {st.name}: arm {arm.from_arm!r} has no finished checkpoint to finetune")
        overrides.append(f"model.init_from={json.dumps(str(ctx.path(src['checkpoint'])))}")
    return load_config(path, overrides), budget


def _train(ctx: Context, st: Stage) -> dict:
    from textbooks.train import train

    cfg, budget = train_config_for(ctx, st)
    section = ctx.config.finetune if st.kind == "finetune" else ctx.config.pretrain
    run_dir = Path(cfg.trainer.run_dir)
    if section.nproc > 1:
        run_dir.mkdir(parents=True, exist_ok=True)
        resolved = ctx.path(f"stages/{st.name}.train.yaml")
        cfg.save(resolved)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={section.nproc}",
               "-m", "textbooks", "train", "--config", str(resolved), "--resume"]
        print("$ " + " ".join(cmd), flush=True)
        rc = subprocess.call(cmd)
        if rc != 0:
            raise PipelineError(f"stage {st.name}: torchrun exited {rc} (logs in {run_dir})")
        summary = _summary_from_run_dir(run_dir)
    else:
        summary = train(cfg, resume=True)
    if summary.get("interrupted"):
        raise KeyboardInterrupt
    if not summary.get("checkpoint"):
        raise PipelineError(f"stage {st.name}: training wrote no checkpoint (see {run_dir})")
    entries = ctx.config.arm(st.arm).finetune if st.kind == "finetune" else ctx.config.arm(st.arm).pretrain
    unique, epochs = {}, {}
    total_weight = sum(e.weight for e in entries)
    for e in entries:  # how often the arm saw each source: equal budgets mean more epochs of a smaller source
        try:
            meta = json.loads(ctx.path(f"packed/{e.source}/meta.json").read_text(encoding="utf-8"))
            unique[e.source] = int(meta["splits"]["train"]["tokens"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        epochs[e.source] = round(budget["tokens"] * e.weight / total_weight / unique[e.source], 3) if unique[e.source] else None
    # Relative to DIR: a moved or copied run directory uses its own checkpoints, never the original's.
    return {"checkpoint": os.path.relpath(Path(summary["checkpoint"]).resolve(), ctx.dir.resolve()),
            "final_loss": summary.get("final_loss"),
            "val_loss": summary.get("val_loss"), "steps": budget["steps"], "tokens": budget["tokens"],
            "run_dir": f"train/{st.arm}", "unique_tokens": unique, "epochs": epochs}


def _summary_from_run_dir(run_dir: Path) -> dict:
    """After a torchrun launch: the newest complete checkpoint and the last logged losses."""
    ckpts = sorted(p for p in (run_dir / "checkpoints").glob("step_*") if (p / "config.json").exists())
    losses = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()] \
        if (run_dir / "metrics.jsonl").exists() else []
    train_losses = [r["loss"] for r in losses if "loss" in r]
    val = [r["val_loss"] for r in losses if "val_loss" in r]
    return {"checkpoint": str(ckpts[-1]) if ckpts else None, "final_loss": train_losses[-1] if train_losses else None,
            "val_loss": val[-1] if val else None}


def _similar(ctx: Context, st: Stage) -> dict:
    d = ctx.config.decontaminate
    train_inputs = [str(filtered_dir(ctx))]
    for which, kind in (("textbooks", "textbooks"), ("exercises", "exercises")):
        f = ctx.path(f"synth/{which}/{kind}.jsonl")
        if f.is_file():
            train_inputs.append(str(f))
    _cli(["data", "similar", "--benchmark", "humaneval", "--train", *train_inputs, "--tau",
          *[str(t) for t in d.similar_tau], "--out", str(ctx.path("similar"))], st)
    return {"files": sorted(p.name for p in ctx.path("similar").glob("similar-tau*.txt"))}


def similar_ids_file(ctx: Context) -> Path | None:
    t = ctx.config.decontaminate.report_tau
    if t is None or not ctx.config.decontaminate.similar_tau:
        return None
    files = sorted(ctx.path("similar").glob("similar-tau*.txt"))
    for f in files:  # similar-tau0.90.txt: match the number, however the verb spells it
        try:
            if abs(float(f.stem.removeprefix("similar-tau")) - t) < 1e-9:
                return f
        except ValueError:
            continue
    return None


def model_dir_of(ctx: Context, arm: str) -> Path:
    res = ctx.results.get(f"finetune-{arm}") or ctx.results.get(f"pretrain-{arm}") or {}
    if not res.get("checkpoint"):
        raise PipelineError(f"arm {arm!r} has no finished checkpoint")
    return ctx.path(res["checkpoint"])  # relative to DIR (an absolute path stays as it is)


def _eval(ctx: Context, st: Stage) -> dict:
    from textbooks.eval.generate import generate_samples
    from textbooks.eval.report import build_report, write_report

    e = ctx.config.eval
    out = ctx.path(f"eval/{st.arm}")
    out.mkdir(parents=True, exist_ok=True)
    model = model_dir_of(ctx, st.arm)
    # Every arm's model in Hugging Face format (transformers / vLLM / `textbooks serve` load it), checked by
    # loading it back when transformers is installed.
    import importlib.util

    hf = out / "hf"
    export = ["export", "hf", str(model), str(hf), "--overwrite"]
    if importlib.util.find_spec("transformers") is None:
        export.append("--no-verify")
    _cli(export, st)
    engine = None
    if e.backend in ("hf", "vllm"):  # generation through transformers / vLLM on that export
        model, engine = hf, e.backend
    runs: list[tuple[str, Path, dict]] = []
    for b in e.benchmarks:
        runs.append((b, out / f"{b}.jsonl", {"split": e.mbpp_split if b.startswith("mbpp") else "test"}))
    heldout = ctx.path("synth/heldout/exercises.jsonl")
    if e.heldout and ctx.config.synth.heldout > 0:
        runs.append(("exercises", out / "exercises.jsonl", {"problems": str(heldout)}))
    results = []
    for b, samples, extra in runs:
        print(f"[{st.name}] {b}: greedy samples -> {samples}", flush=True)
        generate_samples(b, model, samples, limit=e.limits.get(b, e.limit), max_new_tokens=e.max_new_tokens, batch_size=e.batch_size,
                         progress=ctx.progress, engine=engine, **extra)
        argv = ["eval", "execute", "--benchmark", b, "--samples", str(samples), "--isolation", e.isolation,
                "--overwrite"]
        if "problems" in extra:
            argv += ["--problems", extra["problems"]]
        if e.workers:
            argv += ["--workers", str(e.workers)]
        _cli(argv, st)
        results.append(Path(f"{samples}_results.jsonl"))
    nll: dict[str, Any] = {}
    if e.nll:
        from textbooks.eval.nll import canonical_nll

        for b, _samples, extra in runs:
            if b not in ("humaneval", "mbpp", "exercises"):
                continue
            r = canonical_nll(model, b, split=extra.get("split", "test"), limit=e.nll_limit,
                              problems=extra.get("problems"), batch_size=e.batch_size)
            guard.atomic_write_text(out / f"nll-{b}.json", json.dumps(r, indent=2) + "\n")
            nll[b] = r.get("mean_nll")
    syntax = {b: syntax_rates(b, samples, extra) for b, samples, extra in runs}
    guard.atomic_write_text(out / "syntax.json", json.dumps(syntax, indent=2) + "\n")
    judged = []
    if e.judge:
        judged.append(_judge(ctx, st, model, out))
    similar = similar_ids_file(ctx)
    report = build_report(results, similar_ids=similar, judged=judged or None)
    write_report(out / "report", report)
    passes = {b["benchmark"]: b.get("pass_at_k", {}).get("pass@1") for b in report["benchmarks"]}
    return {"pass@1": passes, "nll": nll, "valid_python": {b: r["fraction"] for b, r in syntax.items()},
            "report": f"eval/{st.arm}/report/report.json"}


def syntax_rates(benchmark: str, samples: Path, extra: dict) -> dict:
    """How many samples are valid function bodies: the program parses and the tested function's body is more
    than a docstring, `pass` or `...` (what a small model learns long before it passes tests)."""
    import ast

    from textbooks.eval.tasks import _is_humaneval_format, load_tasks

    tasks = {t.task_id: t for t in load_tasks(benchmark, extra.get("split", "all"), problems=extra.get("problems"))}
    n = valid = nontrivial = 0
    for row in (json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines() if line.strip()):
        task = tasks.get(row["task_id"])
        if task is None:
            continue
        n += 1
        source = (task.prompt + row["completion"]) if (_is_humaneval_format(benchmark) or benchmark == "exercises") \
            else row["completion"]
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        valid += 1
        defs = [d for d in ast.walk(tree) if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef))
                and d.name == task.entry_point]
        body = defs[-1].body if defs else []
        real = [b for b in body if not (isinstance(b, ast.Pass) or (isinstance(b, ast.Expr) and isinstance(
            b.value, ast.Constant) and (isinstance(b.value.value, str) or b.value.value is Ellipsis)))]
        nontrivial += bool(real)
    # "valid" is the demo's claim: a real function body that parses (an empty body or a docstring alone parses
    # too, and is what an undertrained model emits most); `parses` counts those as well.
    return {"samples": n, "valid": nontrivial, "nontrivial": nontrivial, "parses": valid,
            "fraction": nontrivial / n if n else None, "nontrivial_fraction": nontrivial / n if n else None,
            "parses_fraction": valid / n if n else None}


def _judge(ctx: Context, st: Stage, model: Path, out: Path) -> Path:
    from textbooks.eval.generate import generate_samples

    e = ctx.config.eval
    samples = out / "unconventional.jsonl"
    generate_samples("unconventional", model, samples, max_new_tokens=e.max_new_tokens, batch_size=e.batch_size,
                     progress=ctx.progress)
    judged = out / "unconventional.judged.jsonl"
    argv = ["eval", "judge", "--samples", str(samples), "--base-url", e.judge, "--model", str(e.judge_model),
            "--out", str(judged), "--overwrite"]
    _cli(argv, st)
    return judged


def _report(ctx: Context, st: Stage) -> dict:
    from textbooks.pipeline.report import write_report

    write_run_json(ctx, stages=None)
    html, js = write_report(ctx.dir)
    return {"html": str(html.relative_to(ctx.dir)), "json": str(js.relative_to(ctx.dir))}


# --------------------------------------------------------------------------------------------- the plan
def build_stages(ctx: Context) -> list[Stage]:
    """Every stage of the config in run order, with its settings (what its fingerprint covers)."""

    c, repo = ctx.config, ctx.repo
    curate_file = resolve_shipped(c.curate.config, repo)
    # The stages' own configs are checked now (a typo in curate.set must not surface after hours of work).
    from textbooks.data.curate import load_curate_config
    from textbooks.synth.config import load_synth_config

    _load_section_config(load_curate_config, curate_file, c.curate.set, "curate")
    _load_section_config(load_synth_config, None, c.synth.set, "synth")
    # The sandbox mode is not a setting of what is made (a verdict is the same in either): not fingerprinted.
    common_synth = {"teacher": c.synth.teacher, "model": c.synth.model, "set": c.synth.set}
    stages = [
        Stage("curate", "curate", {"inputs": input_identity(corpus_inputs(c)), "max_files": c.corpus.max_files,
                                   "config_file": str(curate_file) if curate_file else None,
                                   "config_digest": file_digest(curate_file), "annotator": c.curate.annotator,
                                   "set": c.curate.set}, [], ["curate"], _curate),
    ]
    if c.decontaminate.enabled:
        stages.append(Stage("decontaminate", "decontaminate",
                            {**{k: v for k, v in asdict(c.decontaminate).items() if k not in ("similar_tau", "report_tau")},
                             "config_file": str(curate_file) if curate_file else None,
                             "config_digest": file_digest(curate_file)}, ["curate"], ["decontaminate"], _decontaminate))
    filtered_dep = ["decontaminate"] if c.decontaminate.enabled else ["curate"]
    used = c.sources_used()
    if c.synth.textbooks > 0:
        stages.append(Stage("synth-textbooks", "synth", {**common_synth, "n": c.synth.textbooks, "seed": c.synth.seed},
                            [], ["synth/textbooks"], _synth("textbooks", "textbooks")))
    if c.synth.exercises > 0:
        stages.append(Stage("synth-exercises", "synth",
                            {**common_synth, "n": c.synth.exercises, "seed": c.synth.seed, "mine": c.synth.mine,
                             "holdout": c.synth.holdout_families},
                            filtered_dep if c.synth.mine else [], ["synth/exercises"], _synth("exercises", "exercises")))
    if c.eval.heldout and c.synth.heldout > 0:
        stages.append(Stage("synth-heldout", "synth",
                            {**common_synth, "n": c.synth.heldout, "seed": c.synth.seed + 1,
                             "families": c.synth.holdout_families}, [], ["synth/heldout"],
                            _synth("exercises", "heldout")))
    synth_names = [s.name for s in stages if s.kind == "synth" and s.name != "synth-heldout"]
    stages.append(Stage("tokenizer", "tokenizer", asdict(c.tokenizer), ["curate", *synth_names], ["tokenizer"],
                        _tokenizer))
    pack_dep = {"raw": ["curate"], "filtered": filtered_dep, "textbooks": ["synth-textbooks"],
                "exercises": ["synth-exercises"]}
    for source in used:
        stages.append(Stage(f"pack-{source}", "pack", {"source": source}, ["tokenizer", *pack_dep[source]],
                            [f"packed/{source}"], _pack(source)))
    for arm in c.arms:
        kind = "finetune" if arm.from_arm else "pretrain"
        section = c.finetune if arm.from_arm else c.pretrain
        cfg_file = resolve_shipped(section.config, repo)
        base = base_train_config(ctx, kind)
        entries = arm.finetune if arm.from_arm else arm.pretrain
        deps = [f"pack-{e.source}" for e in entries]
        if arm.from_arm:
            src = c.arm(arm.from_arm)
            deps.append(f"{'finetune' if src.from_arm else 'pretrain'}-{src.name}")
        stages.append(Stage(f"{kind}-{arm.name}", kind,
                            # nproc is not fingerprinted: the trainer gives the same run on any number of ranks
                            {"config": base.to_dict(), "config_file": str(cfg_file), "tokens": section.tokens,
                             "data": [asdict(e) for e in entries], "from": arm.from_arm},
                            deps, [f"train/{arm.name}"], _train, arm=arm.name))
    if c.decontaminate.similar_tau:
        stages.append(Stage("similar", "similar", {"tau": c.decontaminate.similar_tau},
                            [*filtered_dep, *synth_names], ["similar"], _similar))
    for arm in c.arms:
        trained = f"{'finetune' if arm.from_arm else 'pretrain'}-{arm.name}"
        deps = [trained] + (["similar"] if c.decontaminate.similar_tau else [])
        if c.eval.heldout and c.synth.heldout > 0:
            deps.append("synth-heldout")
        # Settings that do not change a number (the sandbox mode, worker count, what the report shows) are
        # left out, so changing them reruns nothing.
        measured = {k: v for k, v in asdict(c.eval).items() if k not in ("isolation", "workers", "samples_shown")}
        stages.append(Stage(f"eval-{arm.name}", "eval", {"eval": measured,
                                                         "report_tau": c.decontaminate.report_tau},
                            deps, [f"eval/{arm.name}"], _eval, arm=arm.name))
    stages.append(Stage("report", "report", {"arms": [a.name for a in c.arms]},
                        [s.name for s in stages], ["report.html", "report.json"], _report))
    return stages


def _load_section_config(loader, path, items: list[str], section: str):
    """A stage's own config with the pipeline section's `set` list; an error names `section.set`, not a flag."""
    from textbooks.train.config import ConfigError

    try:
        return loader(path, list(items))
    except ConfigError as e:
        raise ConfigError(f"{section}.set (pipeline config): " + str(e).replace("--set ", "", 1)) from None


def read_marker(ctx: Context, name: str) -> dict | None:
    try:
        data = json.loads(ctx.path(f"stages/{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def plan(ctx: Context, *, only: list[str] | None = None, start: str | None = None) -> list[Stage]:
    """Fingerprint every stage and decide run / resume / skip. `only`: stage names or kinds to run (their
    inputs must be done already); `start`: this stage (name or kind) and every stage reading it are rerun."""
    stages = build_stages(ctx)
    names = [s.name for s in stages]
    for sel in (only or []) + ([start] if start else []):
        if sel not in names and sel not in STAGE_KINDS:
            import difflib

            close = difflib.get_close_matches(sel, names + list(STAGE_KINDS), n=1)
            raise guard.UsageError(f"no stage {sel!r} in this config{f'; did you mean {close[0]!r}?' if close else ''} "
                                   f"(stages: {', '.join(names)}; kinds: {', '.join(STAGE_KINDS)})")
    fps: dict[str, str] = {}
    forced_names: set[str] = set()
    if start:  # the stage(s) named and everything that reads them, directly or not
        for st in stages:
            if start in (st.name, st.kind) or any(d in forced_names for d in st.deps):
                forced_names.add(st.name)
    will_run: set[str] = set()
    for i, st in enumerate(stages):
        st.fingerprint = fps[st.name] = fingerprint(st, fps, {"<repo>": ctx.repo, "<run>": ctx.dir})
        marker = read_marker(ctx, st.name)
        selected = not only or any(sel in (st.name, st.kind) for sel in only)
        forced = st.name in forced_names
        same = marker is not None and marker.get("fingerprint") == st.fingerprint
        if not selected:
            st.action, st.reason = "skip", "not selected (--only)"
            if marker is None or marker.get("status") != "done":
                st.action, st.reason = "missing", "not done, and not selected by --only"
            elif not same:  # its outputs are there, made with other settings: --only uses them as they are
                st.action, st.reason = "skip", "not selected (--only); done with other settings, used as it is"
        elif forced:
            st.action, st.reason = "run", f"--from {start}"
        elif only and not (same and marker.get("status") == "running"):
            st.action, st.reason = "run", "--only"
        elif same and marker.get("status") == "done" and not any(d in will_run for d in st.deps):
            st.action, st.reason = "skip", "done, same settings and inputs"
        elif same and marker.get("status") == "running" and not any(d in will_run for d in st.deps):
            st.action, st.reason = "resume", "interrupted earlier: continues from what it wrote"
        else:
            st.action = "run"
            changed = [d for d in st.deps if d in will_run]
            if marker is None:
                st.reason = "new"
            elif changed:
                st.reason = f"an input stage reruns ({', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''})"
            elif _normal(marker.get("settings")) != _normal(st.settings):
                st.reason = "its settings changed"
            else:
                st.reason = "its inputs changed"
        if st.action in ("run", "resume"):
            will_run.add(st.name)
    if only:
        for st in stages:
            if st.action in ("run", "resume"):
                missing = [d for d in st.deps if next(s for s in stages if s.name == d).action == "missing"]
                if missing:
                    raise guard.UsageError(f"--only {' '.join(only)}: stage {st.name} needs {', '.join(missing)}, "
                                           f"which {'is' if len(missing) == 1 else 'are'} not done; run without "
                                           "--only first (or add them)")
    return stages


def _normal(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def describe_plan(ctx: Context, stages: list[Stage]) -> str:
    c = ctx.config
    lines = [f"run {c.name!r} in {ctx.dir}", ""]
    width = max(len(s.name) for s in stages)
    for st in stages:
        extra = ""
        if st.kind in ("pretrain", "finetune"):
            section = c.finetune if st.kind == "finetune" else c.pretrain
            train_cfg = base_train_config(ctx, st.kind)
            budget = plan_tokens(train_cfg, section.tokens)
            micro = train_cfg.trainer.micro_batch_size
            accum = max(1, budget["batch"] // (micro * section.nproc))
            data = ", ".join(f"{e['source']} x{e['weight']:g}" for e in st.settings["data"])
            extra = (f"  [{budget['tokens']:,} tokens = {budget['steps']} steps x {budget['batch']} seqs "
                     f"(micro {micro} x accum {accum} x {section.nproc} rank{'s' if section.nproc > 1 else ''}) x "
                     f"{budget['seq_len']}; warmup {budget['warmup_steps']}, schedule {budget['decay_steps']}; "
                     f"data: {data}{'; from ' + st.settings['from'] if st.settings['from'] else ''}"
                     f"{'; torchrun x' + str(section.nproc) if section.nproc > 1 else ''}]")
        lines.append(f"  {st.action:<7} {st.name:<{width}}  {st.reason}{extra}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- running
def _versions() -> dict[str, str]:
    from importlib import metadata

    from textbooks import __version__

    out = {"textbooks": __version__, "python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("torch", "tokenizers", "datatrove", "scikit-learn", "transformers", "vllm"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _git_commit(repo: Path | None) -> str | None:
    if repo is None or not (repo / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def arms_info(ctx: Context) -> list[dict]:

    c = ctx.config
    out = []
    tokens = {}
    for arm in c.arms:
        section = c.finetune if arm.from_arm else c.pretrain
        budget = plan_tokens(base_train_config(ctx, "finetune" if arm.from_arm else "pretrain"), section.tokens)
        pre = tokens[arm.from_arm][0] if arm.from_arm else budget["tokens"]
        fine = (tokens[arm.from_arm][1] + budget["tokens"]) if arm.from_arm else 0
        tokens[arm.name] = (pre, fine)
        out.append({"name": arm.name, "pretrain_tokens": pre, "finetune_tokens": fine, "from": arm.from_arm,
                    "data": [asdict(e) for e in (arm.finetune or arm.pretrain)]})
    return out


def write_run_json(ctx: Context, stages: list[Stage] | None) -> None:
    path = ctx.path("run.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data.update({"format": FORMAT, "name": ctx.config.name, "config": asdict(ctx.config), "versions": _versions(),
                 "git_commit": _git_commit(ctx.repo), "arms": arms_info(ctx)})
    data.setdefault("created", datetime.now(timezone.utc).isoformat(timespec="seconds"))
    table = data.get("stages", {})
    for st in stages or []:
        m = read_marker(ctx, st.name) or {}
        table[st.name] = {"status": m.get("status", "pending"), "fingerprint": st.fingerprint,
                          "seconds": m.get("seconds"), "out": st.outputs[0] if st.outputs else None, "kind": st.kind,
                          "arm": st.arm}
    if stages is None:  # refresh statuses from the markers
        for name, row in table.items():
            m = read_marker(ctx, name) or {}
            row["status"], row["seconds"] = m.get("status", row.get("status")), m.get("seconds", row.get("seconds"))
    data["stages"] = table
    guard.atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def _write_marker(ctx: Context, st: Stage, status: str, **extra) -> None:
    m = {"stage": st.name, "kind": st.kind, "status": status, "fingerprint": st.fingerprint,
         "settings": st.settings, **extra}
    path = ctx.path(f"stages/{st.name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    guard.atomic_write_text(path, json.dumps(m, indent=2, default=str) + "\n")


def _remove_outputs(ctx: Context, st: Stage) -> None:
    root = ctx.dir.resolve()
    for rel in st.outputs:
        p = ctx.path(rel)
        parent = p.parent.resolve()
        if parent != root and root not in parent.parents:  # DIR/eval -> /elsewhere: never delete through it
            raise PipelineError(f"stage {st.name}: {p.parent} leads outside the run directory {ctx.dir} (a "
                                "symlink?); its outputs are not removed. Replace the link with a directory")
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


@contextlib.contextmanager
def run_lock(directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise guard.UsageError(f"another `textbooks run` is using {directory}; wait for it or pick another --out") \
                from None
        yield


def execute(ctx: Context, stages: list[Stage]) -> dict[str, Any]:
    """Run the planned stages in order; returns {stage: seconds} of those that ran."""
    for st in stages:  # results of stages that are done feed the later ones (checkpoints, ...)
        m = read_marker(ctx, st.name)
        if m and m.get("status") == "done" and st.action in ("skip",):
            ctx.results[st.name] = m.get("result", {})
    write_run_json(ctx, stages)
    ran: dict[str, float] = {}
    t_all = time.perf_counter()
    for st in stages:
        if st.action in ("skip", "missing"):
            if st.action == "skip":
                print(f"=== {st.name}: skipped ({st.reason})", flush=True)
            continue
        print(f"\n=== {st.name} ({st.reason})", flush=True)
        if st.action == "run":
            _remove_outputs(ctx, st)
        _write_marker(ctx, st, "running", started=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        write_run_json(ctx, stages)
        guard.set_resume_hint(f"rerun the same `textbooks run` command to resume (finished stages are kept; "
                              f"{st.name} continues from what it wrote)")
        t0 = time.perf_counter()
        result = st.run(ctx, st)
        seconds = round(time.perf_counter() - t0, 2)
        ctx.results[st.name] = result
        _write_marker(ctx, st, "done", seconds=seconds, result=result,
                      finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        write_run_json(ctx, stages)
        ran[st.name] = seconds
        print(f"--- {st.name} done in {seconds:.1f}s", flush=True)
    ran["_total"] = round(time.perf_counter() - t_all, 2)
    return ran


def check_run_dir(directory: Path, name: str) -> str:
    """A run dir is this config's (run.json with our format and the config's name: resumed) or new (absent
    or empty); any other non-empty directory, another config's run included, is refused and never emptied:
    a typo in --out must not cost someone their files or their run."""
    def ours(p: Path) -> bool:
        return guard.json_marker("run.json", format=FORMAT)(p)

    if directory.is_dir() and {e.name for e in os.scandir(directory)} == {".lock"}:
        return "new"  # a run killed between taking the lock and writing run.json: nothing of it to keep
    if ours(directory) and not guard.json_marker("run.json", format=FORMAT, name=name)(directory):
        other = json.loads((directory / "run.json").read_text(encoding="utf-8")).get("name")
        raise guard.UsageError(f"--out {directory} holds the run of config {other!r}, not {name!r}; give another "
                               f"--out (or delete {directory} to start it over)")
    [out] = guard.check_outputs([guard.Output(directory, kind="dir", flag="--out", replaces=False,
                                              expected="the run directory of an earlier `textbooks run` or "
                                                       "`textbooks demo`")], resumable_marker=ours)
    return out.state
