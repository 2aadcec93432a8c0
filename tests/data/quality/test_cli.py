"""`textbooks data quality annotate|train|apply` end to end, through `textbooks.cli.main` (the real parser and
error boundary): offline and HTTP-judge annotation, training with plots, and the filter run by the data runner."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.eval.openai_server_fixture import LocalOpenAIServer
from textbooks.cli import main
from textbooks.data.sources import stdlib_dir
from textbooks.jsonl import write_jsonl


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _shards(folder):
    rows = []
    for shard in sorted(folder.rglob("*.jsonl.gz")):
        with gzip.open(shard, "rt") as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    """annotate (offline, 160 stdlib files) -> train (hashed features, a small forest)."""
    tmp = tmp_path_factory.mktemp("quality_cli")
    annotations = tmp / "annotations.jsonl"
    assert main(["data", "quality", "annotate", str(stdlib_dir()), "--out", str(annotations), "--annotator", "offline",
                 "--sample", "160", "--seed", "1", "--no-progress"]) == 0
    model = tmp / "model"
    assert main(["data", "quality", "train", str(annotations), "--out", str(model), "--featurizer", "hashed:dim=1024",
                 "--n-estimators", "60"]) == 0
    return tmp, annotations, model


def test_annotate_and_train_write_records_summary_model_report_and_plots(trained_dir, capsys):
    tmp, annotations, model = trained_dir
    records = _rows(annotations)
    assert len(records) == 160 and all(r["annotator"] == "offline-rubric-v1" and 0 <= r["score"] <= 5 for r in records)
    summary = json.loads((tmp / "annotations.jsonl.summary.json").read_text())
    assert summary["documents"] == 160 and summary["scored"] == 160 and summary["usage"] is None
    assert sum(summary["by_score"].values()) == 160
    meta = json.loads((model / "classifier.json").read_text())
    report = json.loads((model / "report.json").read_text())
    assert meta["featurizer_spec"] == "hashed:dim=1024,n=1-3" and meta["model_sha256"] and report["n"] == 160
    assert report["score_counts"] == summary["by_score"]
    for name in ("score_histogram", "roc", "confusion"):
        png = model / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.with_suffix(".json").is_file()
    roc = json.loads((model / "plots" / "roc.json").read_text())
    assert roc["auc"] == report["held_out"]["roc_auc"] and roc["fpr"][0] == 0.0 and roc["tpr"][-1] == 1.0


def test_apply_keeps_scores_and_removes_with_the_reason(trained_dir, tmp_path):
    _, annotations, model = trained_dir
    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(corpus, ({"id": r["id"], "text": r["text"]} for r in _rows(annotations)[:40]))
    out = tmp_path / "applied"
    assert main(["data", "quality", "apply", str(corpus), "--model", str(model), "--out", str(out), "--workers", "1",
                 "--batch-size", "16"]) == 0
    kept, removed = _shards(out / "output"), _shards(out / "removed")
    assert len(kept) + len(removed) == 40 and kept and removed
    assert all(r["metadata"]["edu_score"] >= 0.5 for r in kept)
    assert all(r["metadata"]["edu_score"] < 0.5 and r["metadata"]["drop_reason"] == "low_educational_value" for r in removed)
    stats = json.loads((out / "stats.json").read_text())
    step = next(s for s in stats["steps"] if s["step"].endswith("educational value"))
    assert step["in"] == 40 and step["kept"] == len(kept) and step["dropped"] == {"low_educational_value": len(removed)}
    assert sum(stats["edu_score"]["bins"].values()) == 40 and (out / "plots" / "edu_score.png").is_file()
    # a relaunch of the finished run does nothing and leaves the same outputs
    assert main(["data", "quality", "apply", str(corpus), "--model", str(model), "--out", str(out), "--workers", "1",
                 "--batch-size", "16"]) == 0
    assert _shards(out / "output") == kept


def test_apply_refuses_a_model_trained_on_other_features(trained_dir, tmp_path, capsys):
    _, annotations, model = trained_dir
    rc = main(["data", "quality", "apply", str(annotations), "--model", str(model), "--out", str(tmp_path / "o"),
               "--featurizer", "hashed:dim=2048"])
    assert rc == 2 and "featurizer mismatch" in capsys.readouterr().err


def test_annotate_with_an_http_judge_reports_tokens_and_resumes_from_the_cache(tmp_path, capsys):
    corpus = tmp_path / "docs.jsonl"
    write_jsonl(corpus, [{"id": f"d{i}", "text": f"def f{i}(x):\n    return x + {i}\n"} for i in range(5)])
    with LocalOpenAIServer(lambda path, body: ["Small and clear.\nEducational score: 3"]) as server:
        out = tmp_path / "ann.jsonl"
        argv = ["data", "quality", "annotate", str(corpus), "--out", str(out), "--annotator", server.base_url,
                "--model", "judge", "--api-key-env", "", "--no-progress", "--sample", "0"]
        assert main(argv) == 0
        err = capsys.readouterr().err
        assert "5 documents" in err and "5 requests (0 cached), 5 prompt + 5 completion tokens" in err
        assert [r["score"] for r in _rows(out)] == [3] * 5 and len(server.requests) == 5
        assert main(argv) == 0  # the rerun is answered from OUT.cache.sqlite
        assert len(server.requests) == 5 and "0 requests (5 cached)" in capsys.readouterr().err
    summary = json.loads((tmp_path / "ann.jsonl.summary.json").read_text())
    assert summary["prompt_version"] == "educational_value_v1" and summary["usage"]["cache_hits"] == 5


def test_annotate_needs_a_model_name_with_a_url(tmp_path, capsys):
    rc = main(["data", "quality", "annotate", str(stdlib_dir() / "json"), "--out", str(tmp_path / "a.jsonl"),
               "--annotator", "http://127.0.0.1:9/v1"])
    assert rc == 2 and "--model is required" in capsys.readouterr().err


def test_apply_in_two_worker_processes_equals_one(trained_dir, tmp_path):
    """The step is pickled (dill) to forkserver workers and loads its model there; same documents, same scores."""
    _, annotations, model = trained_dir
    corpus = tmp_path / "corpus.jsonl"
    write_jsonl(corpus, ({"id": r["id"], "text": r["text"]} for r in _rows(annotations)[:30]))
    outs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        assert main(["data", "quality", "apply", str(corpus), "--model", str(model), "--out", str(out),
                     "--workers", workers, "--tasks", "2"]) == 0
        outs[workers] = sorted((r["id"], r["metadata"]["edu_score"]) for r in _shards(out / "output") + _shards(out / "removed"))
    assert outs["1"] == outs["2"] and len(outs["1"]) == 30


def test_annotate_reruns_into_its_own_output_but_keeps_one_made_with_other_settings(tmp_path, capsys):
    corpus = tmp_path / "docs.jsonl"
    write_jsonl(corpus, [{"id": f"d{i}", "text": f"def f{i}(x):\n    return x + {i}\n"} for i in range(6)])
    out = tmp_path / "ann.jsonl"
    argv = ["data", "quality", "annotate", str(corpus), "--out", str(out), "--annotator", "offline", "--no-progress",
            "--sample", "0"]
    assert main(argv) == 0 and main(argv) == 0  # the same settings: its own output, rewritten
    before = out.read_bytes(), (tmp_path / "ann.jsonl.summary.json").read_bytes()
    capsys.readouterr()
    assert main([*argv[:-1], "3"]) == 2  # another sample size: someone else's annotations now
    err = capsys.readouterr().err
    assert str(out) in err and "--overwrite" in err and "Traceback" not in err
    assert (out.read_bytes(), (tmp_path / "ann.jsonl.summary.json").read_bytes()) == before
    assert main([*argv[:-1], "3", "--overwrite"]) == 0 and len(_rows(out)) == 3
