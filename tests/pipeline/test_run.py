"""`textbooks run`: a real micro pipeline (every stage, four arms) on a few stdlib packages, then what a rerun,
a changed setting, --only/--from and a kill -9 during pretraining do to it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
import yaml

from textbooks.cli import main
from textbooks.pipeline.config import load_pipeline_config
from textbooks.pipeline.run import Context, plan, plan_tokens, repo_root
from textbooks.train import load_config
from textbooks.train.config import ConfigError

REPO = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"])

MICRO = {
    "name": "micro",
    "corpus": {"inputs": [str(STDLIB / "json"), str(STDLIB / "email"), str(STDLIB / "html")], "max_files": 60},
    "curate": {"set": ["quality.sample=40"]},
    "synth": {"textbooks": 10, "exercises": 30, "heldout": 6,
              "holdout_families": ["lists.chunk", "strings", "basics.fizz_word"]},
    "tokenizer": {"vocab_size": 400},
    "pretrain": {"config": "configs/train/demo-tiny.yaml", "tokens": 20000,
                 "set": ["trainer.checkpoint_every=2", "trainer.val_every=0"]},
    "finetune": {"config": "configs/train/demo-finetune.yaml", "tokens": 6000},
    "arms": [
        {"name": "raw", "pretrain": [{"source": "raw"}]},
        {"name": "filtered", "pretrain": [{"source": "filtered"}]},
        {"name": "codetextbook", "pretrain": [{"source": "filtered", "weight": 0.8}, {"source": "textbooks", "weight": 0.2}]},
        {"name": "codetextbook+exercises", "from_arm": "codetextbook", "finetune": [{"source": "exercises"}]},
    ],
    "eval": {"limit": 3, "max_new_tokens": 24, "nll_limit": 4, "isolation": "process"},
    "decontaminate": {"similar_tau": [0.95, 0.9]},
}


def write_config(path: Path, out: Path, **changes) -> Path:
    config = json.loads(json.dumps(MICRO))
    config["out"] = str(out)
    for key, value in changes.items():
        section, _, field = key.partition(".")
        config.setdefault(section, {})[field] = value
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    base = tmp_path_factory.mktemp("pipeline")
    config = write_config(base / "micro.yaml", base / "run")
    proc = subprocess.run([sys.executable, "-m", "textbooks", "run", str(config), "--no-progress"], cwd=REPO,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"config": config, "dir": base / "run", "stdout": proc.stdout, "base": base}


def planned(config: Path, overrides=(), **kw) -> dict[str, str]:
    cfg = load_pipeline_config(config, list(overrides))
    ctx = Context(config=cfg, dir=Path(cfg.out), repo=repo_root())
    return {s.name: s.action for s in plan(ctx, **kw)}


def to_run(actions: dict[str, str]) -> list[str]:
    return [name for name, action in actions.items() if action in ("run", "resume")]


# --- a whole run ----------------------------------------------------------------------------------------------
def test_every_stage_finishes_and_the_run_describes_itself(micro):
    run = json.loads((micro["dir"] / "run.json").read_text())
    assert run["format"] == "textbooks.pipeline" and run["config"]["name"] == "micro"
    assert {"textbooks", "torch", "python"} <= set(run["versions"])
    assert all(row["status"] == "done" for row in run["stages"].values()), run["stages"]
    assert {"curate", "decontaminate", "synth-heldout", "pretrain-raw", "finetune-codetextbook+exercises",
            "similar", "eval-codetextbook+exercises", "report"} <= set(run["stages"])
    assert (micro["dir"] / "report.html").stat().st_size > 1000
    # the stage outputs the later stages read are where the layout says
    for rel in ("curate/stats.json", "decontaminate/report.jsonl", "synth/heldout/exercises.jsonl",
                "packed/raw/meta.json", "packed/exercises/meta.json", "train/raw/metrics.jsonl",
                "eval/raw/humaneval.jsonl_results.jsonl", "eval/raw/exercises.jsonl_results.jsonl",
                "eval/raw/nll-humaneval.json", "eval/raw/report/report.json"):
        assert (micro["dir"] / rel).exists(), rel


def test_pretraining_arms_see_exactly_the_same_number_of_tokens(micro):
    cfg = load_config(REPO / "configs/train/demo-tiny.yaml", MICRO["pretrain"]["set"])
    budget = plan_tokens(cfg, MICRO["pretrain"]["tokens"])
    seen = {}
    for arm in ("raw", "filtered", "codetextbook"):
        rows = [json.loads(line) for line in (micro["dir"] / "train" / arm / "metrics.jsonl").read_text().splitlines()]
        seen[arm] = max(r.get("tokens_seen", 0) for r in rows)
    assert set(seen.values()) == {budget["tokens"]}, seen
    run = json.loads((micro["dir"] / "run.json").read_text())
    arms = {a["name"]: a for a in run["arms"]}
    assert arms["raw"]["pretrain_tokens"] == arms["codetextbook"]["pretrain_tokens"] == budget["tokens"]
    assert arms["codetextbook+exercises"]["finetune_tokens"] > 0


def test_the_raw_arm_packs_every_document_curation_read(micro):
    stats = json.loads((micro["dir"] / "curate/stats.json").read_text())
    raw = json.loads((micro["dir"] / "packed/raw/meta.json").read_text())
    filtered = json.loads((micro["dir"] / "packed/filtered/meta.json").read_text())
    assert raw["documents"] > filtered["documents"] > 0
    read = stats["steps"][0]  # the reader: documents in, documents it could read (kept)
    assert read["step"].startswith("📖") and raw["documents"] == read["kept"]


def test_report_numbers_are_the_eval_stage_numbers(micro):
    report = json.loads((micro["dir"] / "report.json").read_text())
    for arm in ("raw", "codetextbook+exercises"):
        ev = json.loads((micro["dir"] / "eval" / arm / "report" / "report.json").read_text())
        marker = json.loads((micro["dir"] / "stages" / f"eval-{arm}.json").read_text())
        for b in ev["benchmarks"]:
            p1 = b["pass_at_k"]["pass@1"]
            assert marker["result"]["pass@1"][b["benchmark"]] == p1
            assert p1 in _numbers(report["arms"]), (arm, b["benchmark"], p1)
        nll = json.loads((micro["dir"] / "eval" / arm / "nll-humaneval.json").read_text())
        assert nll["mean_nll"] in _numbers(report["arms"])


def _numbers(obj) -> list:
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _numbers(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _numbers(v)]
    return [obj] if isinstance(obj, (int, float)) else []


# --- reruns and fingerprints --------------------------------------------------------------------------------
def test_a_rerun_skips_every_stage_and_touches_nothing(micro):
    ckpts = sorted((micro["dir"] / "train" / "raw" / "checkpoints").iterdir())
    before = {p: p.stat().st_mtime_ns for p in ckpts}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "textbooks", "run", str(micro["config"]), "--no-progress"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - t0 < 60
    assert "=== curate: skipped" in proc.stdout and "=== eval-raw: skipped" in proc.stdout
    assert "done in" not in proc.stdout.replace("--- ", "")  # no stage ran
    assert {p: p.stat().st_mtime_ns for p in ckpts} == before


def test_a_changed_setting_reruns_exactly_the_stages_after_it(micro):
    cfg = micro["config"]
    assert to_run(planned(cfg)) == []
    evals = ["eval-raw", "eval-filtered", "eval-codetextbook", "eval-codetextbook+exercises", "report"]
    assert to_run(planned(cfg, ["eval.max_new_tokens=30"])) == evals
    assert to_run(planned(cfg, ["finetune.tokens=9000"])) == ["finetune-codetextbook+exercises",
                                                              "eval-codetextbook+exercises", "report"]
    assert to_run(planned(cfg, ["synth.heldout=7"])) == ["synth-heldout", *evals]
    # the tokenizer is trained on every arm's data, so new exercises change every arm's tokens
    changed = to_run(planned(cfg, ["synth.exercises=31"]))
    assert changed[:2] == ["synth-exercises", "tokenizer"] and "curate" not in changed and "pretrain-raw" in changed
    assert to_run(planned(cfg, ["corpus.max_files=59"]))[0] == "curate"
    # a new corpus reruns everything but the synthetic stages that never read it (lessons, held-out families)
    assert set(planned(cfg)) - set(to_run(planned(cfg, ["corpus.max_files=59"]))) == {"synth-textbooks", "synth-heldout"}
    # --only reruns just that stage; --from reruns a stage and everything after it
    assert to_run(planned(cfg, only=["eval-raw"])) == ["eval-raw"]
    assert to_run(planned(cfg, only=["pack"])) == ["pack-raw", "pack-filtered", "pack-textbooks", "pack-exercises"]
    assert to_run(planned(cfg, start="similar")) == ["similar", *evals]
    assert to_run(planned(cfg, start="pretrain-filtered")) == ["pretrain-filtered", "eval-filtered", "report"]
    # settings that change no number rerun nothing
    assert to_run(planned(cfg, ["eval.workers=1", "eval.isolation=bwrap", "eval.samples_shown=1"])) == []


def test_dry_run_prints_the_plan_with_budgets_and_writes_nothing(capsys, tmp_path):
    out = tmp_path / "fresh"
    cfg = write_config(tmp_path / "c.yaml", out)
    assert main(["run", str(cfg), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "run     pretrain-raw" in printed and "20,480 tokens = 5 steps x 16 seqs (micro 8 x accum 2 x 1 rank) x 256" in printed
    assert not out.exists()


def test_kill_9_during_pretraining_then_rerun_resumes_and_finishes(micro, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(micro["dir"], run, symlinks=True)
    # rewrite the copied run's absolute paths? none are read back: stage results hold checkpoints, so the copy's
    # later stages are made fresh by the budget change below (pretraining and everything after it reruns)
    cfg = write_config(tmp_path / "c.yaml", run, **{"pretrain.tokens": 60000})
    # --only keeps the test short: the other arms would retrain too (their budget changed as well)
    launch = [sys.executable, "-m", "textbooks", "run", str(cfg), "--no-progress", "--only", "pretrain-raw"]
    proc = subprocess.Popen(launch, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    ckpts = run / "train" / "raw" / "checkpoints"
    marker_file = run / "stages" / "pretrain-raw.json"
    old_fingerprint = json.loads(marker_file.read_text())["fingerprint"]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        # the stage has started afresh (its marker is new and says running; the copied outputs were removed
        # first) and written its first checkpoint
        try:
            marker = json.loads(marker_file.read_text())
        except (OSError, ValueError):
            marker = {}
        started = marker.get("status") == "running" and marker.get("fingerprint") != old_fingerprint
        done = [p for p in ckpts.glob("step_*") if (p / "config.json").exists()] if started and ckpts.is_dir() else []
        if done and proc.poll() is None:
            break
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    marker = json.loads((run / "stages" / "pretrain-raw.json").read_text())
    assert marker["status"] == "running"
    actions = planned(cfg)
    assert actions["pretrain-raw"] == "resume" and actions["curate"] == "skip"
    assert planned(cfg, only=["pretrain-raw"])["pretrain-raw"] == "resume"
    again = subprocess.run(launch, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    history = [json.loads(line) for line in (run / "train" / "raw" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["event"] == "resume" and history[-1]["step"] > 0
    assert "pretrain-raw (interrupted earlier: continues from what it wrote)" in again.stdout
    assert json.loads((run / "stages" / "pretrain-raw.json").read_text())["status"] == "done"
    assert planned(cfg)["pretrain-raw"] == "skip"


# --- validation before any work -------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, words", [
    ({"arms": []}, "arms: no arms"),
    ({"arms": [{"name": "a", "pretrain": [{"source": "web"}]}]}, "source 'web': not one of raw, filtered"),
    ({"arms": [{"name": "ft", "from_arm": "base", "finetune": [{"source": "exercises"}]}]},
     "'base' is not an arm listed before 'ft'"),
    ({"arms": [{"name": "a/b", "pretrain": [{"source": "raw"}]}]}, "is not a usable name"),
    ({"synth": {"holdout_families": ["lists.chunkk"]}}, "did you mean 'lists.chunk'"),
    ({"pretrain": {"tokens": 0}}, "pretrain.tokens: must be > 0"),
    ({"pretrain": {"tokns": 5}}, "did you mean 'pretrain.tokens'"),
    ({"eval": {"limits": {"mbpp+": 3}}}, "eval.limits.mbpp+: not an evaluated benchmark"),
])
def test_config_errors_name_the_key_before_anything_runs(tmp_path, changes, words):
    config = json.loads(json.dumps(MICRO))
    for section, value in changes.items():
        if isinstance(value, dict) and isinstance(config.get(section), dict):
            config[section].update(value)
        else:
            config[section] = value
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=None) as e:
        load_pipeline_config(path)
    assert words in str(e.value) and str(path) in str(e.value)


def test_a_foreign_directory_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("precious")
    cfg = write_config(tmp_path / "c.yaml", out)
    assert main(["run", str(cfg), "--isolation", "process"]) == 2
    err = capsys.readouterr().err
    assert "is not the run directory of an earlier `textbooks run`" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["chapter1.tex"]


def test_plan_tokens_keeps_the_schedule_shape():
    cfg = load_config(REPO / "configs/train/demo-tiny.yaml")  # warmup 30, decay 1500, stop 1000
    b = plan_tokens(cfg, 16 * 256 * 100)
    assert b["steps"] == 100 and b["decay_steps"] == 150 and b["warmup_steps"] == 3 and b["tokens"] == 409600
    assert plan_tokens(cfg, 1)["steps"] == 1


def test_a_judge_endpoint_grades_each_arm_and_the_report_shows_it(micro, tmp_path, monkeypatch):
    from tests.eval.openai_server_fixture import LocalOpenAIServer

    run = tmp_path / "run"
    shutil.copytree(micro["dir"], run, symlinks=True)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    with LocalOpenAIServer(lambda path, body: ["Readable, but it does not handle the edge cases.\nGrade: 6/10"]) as server:
        cfg = write_config(tmp_path / "c.yaml", run, **{"eval.judge": server.base_url, "eval.judge_model": "judge"})
        assert to_run(planned(cfg))[:1] == ["eval-raw"]  # the judge is an eval setting: evaluation reruns
        assert main(["run", str(cfg), "--no-progress", "--only", "eval-raw", "--only", "report"]) == 0
        graded = len(server.requests)
    judged = [json.loads(line) for line in (run / "eval" / "raw" / "unconventional.judged.jsonl").read_text().splitlines()]
    assert graded >= len(judged) > 0 and all(r["grade"] == 6 for r in judged)
    ev = json.loads((run / "eval" / "raw" / "report" / "report.json").read_text())
    assert ev["judged"] and abs(ev["judged"][0]["score"] - 0.6) < 1e-9
    assert 0.6 in _numbers(json.loads((run / "report.json").read_text())["arms"])
    # the copy evaluated its own checkpoint, not the original run's (stage results are relative to DIR)
    nll = json.loads((run / "eval" / "raw" / "nll-humaneval.json").read_text())
    assert nll["model"].startswith(str(run.resolve())), nll["model"]


def test_nproc_2_trains_an_arm_under_torchrun_with_the_same_budget(micro, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(micro["dir"], run, symlinks=True)
    cfg = write_config(tmp_path / "c.yaml", run, **{"pretrain.nproc": 2})
    assert to_run(planned(cfg, only=["pretrain-raw"])) == ["pretrain-raw"]
    proc = subprocess.run([sys.executable, "-m", "textbooks", "run", str(cfg), "--no-progress", "--only", "pretrain-raw"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "torch.distributed.run --standalone --nproc_per_node=2" in proc.stdout
    history = [json.loads(line) for line in (run / "train" / "raw" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["world_size"] == 2
    rows = [json.loads(line) for line in (run / "train" / "raw" / "metrics.jsonl").read_text().splitlines()]
    budget = plan_tokens(load_config(REPO / "configs/train/demo-tiny.yaml", MICRO["pretrain"]["set"]),
                         MICRO["pretrain"]["tokens"])
    assert max(r.get("tokens_seen", 0) for r in rows) == budget["tokens"]  # the same tokens on 2 ranks
    marker = json.loads((run / "stages" / "pretrain-raw.json").read_text())
    assert marker["status"] == "done" and (run / marker["result"]["checkpoint"]).is_dir()  # relative to DIR


@pytest.mark.parametrize("arms, words", [
    ([{"name": "filtered #b", "pretrain": [{"source": "filtered"}]}, {"name": "x" * 101, "pretrain": [{"source": "raw"}]}],
     "at most 100 characters"),
    ([{"name": "a", "pretrain": [{"source": "raw", "weight": 1e308}, {"source": "filtered", "weight": 1e308}]}],
     "do not make proportions"),
    ([{"name": "a", "pretrain": [{"source": "raw", "weight": float("inf")}]}], "weight must be a finite number"),
])
def test_hostile_arm_names_and_weights_are_refused(tmp_path, arms, words):
    config = json.loads(json.dumps(MICRO))
    config["arms"] = arms
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as e:
        load_pipeline_config(path)
    assert words in str(e.value)


def test_an_arm_name_with_yaml_syntax_names_its_own_directories(tmp_path):
    from textbooks.pipeline.run import Stage, train_config_for

    config = json.loads(json.dumps(MICRO))
    config["arms"] = [{"name": "filtered #b: x", "pretrain": [{"source": "filtered"}]}]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    cfg = load_pipeline_config(path)
    ctx = Context(config=cfg, dir=tmp_path / "o #1: y", repo=repo_root())
    st = next(s for s in plan(ctx) if s.name == "pretrain-filtered #b: x")
    train_cfg, _ = train_config_for(ctx, st)
    assert train_cfg.trainer.run_dir == str(tmp_path / "o #1: y" / "train" / "filtered #b: x")
    assert train_cfg.data.tokenizer == str(tmp_path / "o #1: y" / "tokenizer")


def test_a_run_killed_right_after_taking_the_lock_can_be_rerun(tmp_path):
    from textbooks.pipeline.run import check_run_dir

    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text("")
    assert check_run_dir(out, "micro") == "new"


def test_holding_out_every_family_is_refused_before_anything_runs(tmp_path):
    from textbooks.synth.offline.family import AREAS

    config = json.loads(json.dumps(MICRO))
    config["synth"]["holdout_families"] = list(AREAS)  # every topic area: no training exercise could be made
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="every offline family is held out"):
        load_pipeline_config(path)


def test_a_symlinked_parent_inside_the_run_dir_is_never_deleted_through(tmp_path):
    from textbooks.pipeline.run import PipelineError, _remove_outputs

    precious = tmp_path / "precious"
    (precious / "raw").mkdir(parents=True)
    (precious / "raw" / "thesis.tex").write_text("mine")
    run = tmp_path / "run"
    run.mkdir()
    (run / "eval").symlink_to(precious)
    cfg = load_pipeline_config(write_config(tmp_path / "c.yaml", run))
    ctx = Context(config=cfg, dir=run, repo=repo_root())
    st = next(s for s in plan(ctx) if s.name == "eval-raw")
    with pytest.raises(PipelineError, match="leads outside the run directory"):
        _remove_outputs(ctx, st)
    assert (precious / "raw" / "thesis.tex").read_text() == "mine"
