"""The classifier on offline-rubric labels of real code (stdlib files, hashed features), its saved form, and
the filter step that applies it (batched, picklable, every document scored, drops with the reason)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from datatrove.data import Document

from textbooks.data.quality.annotate import OfflineRubricAnnotator, sample_documents
from textbooks.data.quality.classifier import (
    DROP_REASON,
    ClassifierError,
    EduClassifier,
    EducationalValueFilter,
    TrainSettings,
    binary_metrics,
    train_classifier,
)
from textbooks.data.quality.featurize import HashedNgramFeaturizer
from textbooks.data.sources import read_documents, stdlib_dir

N_FILES = 300


@pytest.fixture(scope="module")
def annotated():
    """300 stdlib files (a seeded sample over the whole library) scored by the offline rubric."""
    docs = sample_documents(read_documents([stdlib_dir()]), N_FILES, seed=0)
    records = OfflineRubricAnnotator().annotate(docs)
    return [r["id"] for r in records], [r["text"] for r in records], [r["score"] for r in records]


@pytest.fixture(scope="module")
def trained(annotated, tmp_path_factory):
    ids, texts, scores = annotated
    featurizer = HashedNgramFeaturizer(dim=2048)
    clf, report = train_classifier(texts, scores, featurizer, TrainSettings(kind="rf", n_estimators=150), ids=ids)
    out = tmp_path_factory.mktemp("edu") / "model"
    clf.save(out)
    return clf, report, featurizer, out


def test_random_forest_beats_the_majority_baseline_on_held_out_rubric_labels(trained):
    _, report, _, _ = trained
    m, majority = report["held_out"], report["baselines"]["majority"]
    assert report["n"] == N_FILES and report["n_test"] == 60 and 0.2 < report["positive_fraction"] < 0.8
    # held-out labels keep the class balance (stratified split)
    assert abs(sum(report["test_labels"]) / report["n_test"] - report["positive_fraction"]) < 0.05
    assert m["accuracy"] >= majority["accuracy"] + 0.1, (m, majority)
    assert m["f1"] > majority["f1"] and m["roc_auc"] >= 0.7, (m, majority)
    assert majority["roc_auc"] == 0.5  # a constant score ranks nothing
    assert sum(map(sum, m["confusion_matrix"])) == report["n_test"]
    assert "logreg" in report["baselines"] and report["baselines"]["logreg"]["n"] == report["n_test"]


def test_metrics_are_those_of_the_confusion_matrix():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.3, 0.6, 0.1, 0.2, 0.4, 0.7])  # at 0.5: tp=3 fn=1 fp=1 tn=3
    m = binary_metrics(y, p)
    assert m["confusion_matrix"] == [[3, 1], [1, 3]]
    assert (m["precision"], m["recall"], m["accuracy"]) == (0.75, 0.75, 0.75) and abs(m["f1"] - 0.75) < 1e-12
    assert m["roc_auc"] == 0.875  # 14 of 16 (positive, negative) pairs ranked right


def test_training_refuses_labels_of_one_class():
    with pytest.raises(ClassifierError, match="both classes"):
        train_classifier(["a", "b", "c", "d"], [4, 5, 4, 3], HashedNgramFeaturizer(dim=16))


def test_saved_classifier_round_trips_and_refuses_another_featurizer(trained, annotated):
    clf, report, featurizer, out = trained
    meta = json.loads((out / "classifier.json").read_text())
    assert meta["featurizer_fingerprint"] == featurizer.fingerprint and meta["threshold"] == 3 and meta["kind"] == "rf"
    assert meta["metrics"]["held_out"] == report["held_out"] and meta["sklearn_version"]
    assert meta["featurizer_spec"] == "hashed:dim=2048,n=1-3"
    loaded = EduClassifier.load(out, featurizer)
    X = featurizer.embed(annotated[1][:20])
    assert np.array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    with pytest.raises(ClassifierError, match="featurizer mismatch"):
        EduClassifier.load(out, HashedNgramFeaturizer(dim=4096))
    with pytest.raises(ClassifierError, match="not a classifier directory"):
        EduClassifier.load(out.parent)


def test_a_replaced_model_file_is_refused(trained, tmp_path):
    import shutil

    _, _, _, out = trained
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with open(copy / "model.joblib", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ClassifierError, match="sha256 differs"):
        EduClassifier.load(copy)


FIXTURE_DOCS = [
    Document(text='def mean(values):\n    """Average of values."""\n    # sum, then divide\n    return sum(values) / len(values)\n',
             id="documented-function"),
    Document(text="class Default(object):\n    def __init__(self, vim):\n        self._vim = vim\n        self._x = None\n", id="boilerplate"),
    Document(text="x = 1\n", id="tiny"),
] * 3  # 9 documents: 3 batches of 4, 4, 1 with batch_size 4


def test_filter_step_scores_every_document_and_drops_with_the_reason(trained, annotated):
    _, _, _, out = trained
    docs = [Document(text=t, id=f"stdlib-{i}") for i, t in enumerate(annotated[1][:40])]
    docs += [Document(text=d.text, id=f"{d.id}-{i}") for i, d in enumerate(FIXTURE_DOCS)]
    step = EducationalValueFilter(out, batch_size=4)
    kept = list(step.run(iter(docs)))
    for d in docs:  # every document got its probability, kept or not
        assert 0.0 <= d.metadata["edu_score"] <= 1.0
    kept_ids = {d.id for d in kept}
    dropped = [d for d in docs if d.id not in kept_ids]
    assert kept and dropped  # real code of both kinds: some of each
    assert all(d.metadata["edu_score"] >= 0.5 and "drop_reason" not in d.metadata for d in kept)
    assert all(d.metadata["edu_score"] < 0.5 and d.metadata["drop_reason"] == DROP_REASON for d in dropped)
    assert all(d.metadata["dropped_by"] == "educational value" for d in dropped)
    stats = step.stats.to_dict()["stats"]
    assert stats["total"] == len(docs) and stats[f"dropped_{DROP_REASON}"] == len(dropped)
    assert sum(v for k, v in stats.items() if k.startswith("edu_score_")) == len(docs)  # the 10-bin histogram

    # a stricter keep probability keeps a subset
    strict = list(EducationalValueFilter(out, batch_size=8, keep_probability=0.9).run(
        iter([Document(text=d.text, id=d.id) for d in docs])))
    assert {d.id for d in strict} <= kept_ids


def test_filter_step_ships_to_workers_without_its_model(trained):
    dill = pytest.importorskip("dill")
    _, _, _, out = trained
    step = EducationalValueFilter(out, batch_size=4)
    first = [d.metadata["edu_score"] for d in _scored(step, FIXTURE_DOCS)]
    assert step._loaded is not None  # loaded on first use
    for dumps, loads in ((pickle.dumps, pickle.loads), (dill.dumps, dill.loads)):
        blob = dumps(step)
        assert b"RandomForest" not in blob  # the model stays behind: workers load it from model_dir
        shipped = loads(blob)
        assert shipped._loaded is None
        assert [d.metadata["edu_score"] for d in _scored(shipped, FIXTURE_DOCS)] == first


def _scored(step, docs):
    fresh = [Document(text=d.text, id=f"{d.id}-{i}") for i, d in enumerate(docs)]
    list(step.run(iter(fresh)))
    return fresh


def test_filter_refuses_a_directory_without_a_classifier(tmp_path):
    with pytest.raises(ClassifierError, match="not a classifier directory"):
        EducationalValueFilter(tmp_path)
