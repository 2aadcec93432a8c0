"""The educational-value classifier (phi-1 §2.1) and the filter step that applies it to a corpus.

    from textbooks.data.quality.classifier import train_classifier, EduClassifier, EducationalValueFilter
    clf, report = train_classifier(texts, scores, load_featurizer("hashed"), kind="rf", threshold=3)
    clf.save("runs/edu")                           # model.joblib + classifier.json
    step = EducationalValueFilter("runs/edu")      # a datatrove filter: metadata["edu_score"], drop reason

The paper: "a random forest classifier that predicts the quality of a file/sample using its output
embedding from a pretrained codegen model as features", trained on ~100k GPT-4 annotations. Its labels,
hyperparameters and threshold are not published (reference §4.2). Here:
- label = annotated score >= `threshold` (default 3, FineWeb-Edu / Python-Edu's keep threshold);
- `kind="rf"`: scikit-learn RandomForestClassifier (300 trees; other settings sklearn's defaults),
  `kind="logreg"`: LogisticRegression (C=1, lbfgs) as the linear baseline; both with
  class_weight="balanced", since annotated samples are rarely half good (FineWeb-Edu keeps ~8%);
- a seeded, stratified held-out split (20%); metrics at the decision threshold (probability >= 0.5
  keeps): precision, recall and F1 of the "high value" class, accuracy, ROC AUC, the confusion matrix,
  and the same numbers for the majority-class baseline (and the other model kind, for comparison).
  FineWeb-Edu's public anchor is F1 = 0.82 at threshold 3 (data-tools §1.2).

Saved as `model.joblib` (joblib, the format scikit-learn's docs recommend for its estimators) plus
`classifier.json` (featurizer spec and fingerprint, thresholds, metrics, sklearn version, the sha256 of
model.joblib). SECURITY: loading a .joblib file unpickles it, which can run arbitrary code: load only
classifiers you (or someone you trust) trained. `EduClassifier.load` checks the file against the sha256
in classifier.json (a guard against a swapped or damaged file, not against a malicious writer of both),
warns on another sklearn version, and refuses a featurizer whose fingerprint differs from the one the
model was trained on (vectors from another featurizer are meaningless to it).
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

import numpy as np

from textbooks.data.steps import ReasonFilter

MODEL_FILE = "model.joblib"
META_FILE = "classifier.json"
REPORT_FILE = "report.json"
DEFAULT_THRESHOLD = 3  # FineWeb-Edu model card: keep int_score >= 3 (data-tools §1.2); Python-Edu the same
DEFAULT_KEEP_PROBABILITY = 0.5  # P(high value) at which a document is kept (the argmax of two classes)
DROP_REASON = "low_educational_value"
SCHEMA = 1


class ClassifierError(ValueError):
    """A classifier directory that cannot be used with this featurizer or this data (the message says why)."""


@dataclass
class TrainSettings:
    kind: Literal["rf", "logreg"] = "rf"
    threshold: int = DEFAULT_THRESHOLD
    test_fraction: float = 0.2  # held-out share: the usual 80/20 split (FineWeb-Edu held out 10%)
    seed: int = 0
    n_estimators: int = 300  # trees; the paper does not say. sklearn's default is 100; 300 is steadier on small sets
    n_jobs: int = 1  # cores for the forest; 1 keeps shared machines and tests predictable
    compare: bool = True  # also fit the other kind on the same split and report it
    keep_probability: float = DEFAULT_KEEP_PROBABILITY


def make_estimator(kind: str, seed: int, n_estimators: int = 300, n_jobs: int = 1):
    if kind == "rf":
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=n_estimators, class_weight="balanced", random_state=seed, n_jobs=n_jobs)
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced", random_state=seed)
    raise ValueError(f"unknown classifier kind {kind!r}; choose rf (random forest, as in the paper) or logreg")


def binary_metrics(y_true: np.ndarray, proba: np.ndarray, keep_probability: float = DEFAULT_KEEP_PROBABILITY) -> dict[str, Any]:
    """Precision / recall / F1 of the positive class, accuracy, ROC AUC and the confusion matrix
    [[tn, fp], [fn, tp]] of predictions `proba >= keep_probability`."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support, roc_auc_score

    y_true = np.asarray(y_true, dtype=int)
    pred = (np.asarray(proba) >= keep_probability).astype(int)
    p, r, f1, _ = precision_recall_fscore_support(y_true, pred, average="binary", pos_label=1, zero_division=0)
    auc = float(roc_auc_score(y_true, proba)) if len(set(y_true.tolist())) == 2 else None
    return {"precision": float(p), "recall": float(r), "f1": float(f1), "accuracy": float(accuracy_score(y_true, pred)),
            "roc_auc": auc, "confusion_matrix": confusion_matrix(y_true, pred, labels=[0, 1]).tolist(),
            "positives": int(y_true.sum()), "n": int(len(y_true))}


@dataclass
class EduClassifier:
    """A fitted estimator plus what it needs to be applied correctly (featurizer, thresholds)."""

    model: Any
    featurizer_spec: str
    featurizer_fingerprint: str
    threshold: int = DEFAULT_THRESHOLD
    keep_probability: float = DEFAULT_KEEP_PROBABILITY
    kind: str = "rf"
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(score >= threshold) for each row of features."""
        classes = list(self.model.classes_)
        if classes == [1]:  # trained on one class only (refused by train_classifier; kept for safety)
            return np.ones(len(X))
        return self.model.predict_proba(X)[:, classes.index(1)] if 1 in classes else np.zeros(len(X))

    def check_featurizer(self, featurizer) -> None:
        if featurizer.fingerprint != self.featurizer_fingerprint:
            raise ClassifierError(
                f"featurizer mismatch: the classifier was trained on features {self.featurizer_fingerprint!r} "
                f"(spec {self.featurizer_spec!r}), but this featurizer is {featurizer.fingerprint!r}; use the same "
                "featurizer (same model files, max_tokens, dtype) or retrain the classifier on it")

    def save(self, directory: str | Path, report: dict[str, Any] | None = None) -> Path:
        """model.joblib + classifier.json (+ report.json: train_classifier's full report, when given)."""
        import joblib
        import sklearn

        from textbooks.jsonl import write_json_atomic

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{MODEL_FILE}.tmp"
        joblib.dump(self.model, tmp)
        digest = _sha256(tmp)
        tmp.replace(directory / MODEL_FILE)
        meta = {
            "schema": SCHEMA, "kind": self.kind, "featurizer_spec": self.featurizer_spec,
            "featurizer_fingerprint": self.featurizer_fingerprint, "threshold": self.threshold,
            "keep_probability": self.keep_probability, "sklearn_version": sklearn.__version__,
            "model_file": MODEL_FILE, "model_sha256": digest, "metrics": self.metrics, **self.info,
        }
        if report is not None:
            write_json_atomic(directory / REPORT_FILE, report)
        write_json_atomic(directory / META_FILE, meta)  # last: its presence marks a complete directory
        return directory

    @classmethod
    def load(cls, directory: str | Path, featurizer=None) -> "EduClassifier":
        """Load a saved classifier; with `featurizer`, refuse it unless its fingerprint matches.
        Unpickles model.joblib: only load directories you trust (see the module docstring)."""
        import joblib
        import sklearn

        directory = Path(directory)
        meta_path = directory / META_FILE
        if not meta_path.is_file():
            raise ClassifierError(f"{directory}: not a classifier directory (no {META_FILE}); train one with "
                                  "`textbooks data quality train ANNOTATIONS.jsonl --out DIR`")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        model_path = directory / meta.get("model_file", MODEL_FILE)
        if not model_path.is_file():
            raise ClassifierError(f"{model_path}: missing (named in {meta_path})")
        if _sha256(model_path) != meta.get("model_sha256"):
            raise ClassifierError(f"{model_path}: its sha256 differs from the one recorded in {meta_path}; the file was "
                                  "replaced or damaged - retrain, or restore the pair written together")
        if meta.get("sklearn_version") != sklearn.__version__:
            warnings.warn(f"{directory}: trained with scikit-learn {meta.get('sklearn_version')}, loaded with "
                          f"{sklearn.__version__}; predictions may differ (sklearn does not promise pickles across versions)",
                          stacklevel=2)
        known = {"schema", "kind", "featurizer_spec", "featurizer_fingerprint", "threshold", "keep_probability",
                 "sklearn_version", "model_file", "model_sha256", "metrics"}
        clf = cls(model=joblib.load(model_path), featurizer_spec=meta["featurizer_spec"],
                  featurizer_fingerprint=meta["featurizer_fingerprint"], threshold=int(meta["threshold"]),
                  keep_probability=float(meta["keep_probability"]), kind=meta.get("kind", "rf"),
                  metrics=meta.get("metrics", {}), info={k: v for k, v in meta.items() if k not in known})
        if featurizer is not None:
            clf.check_featurizer(featurizer)
        return clf


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def train_classifier(texts: Sequence[str], scores: Sequence[int], featurizer, settings: TrainSettings | None = None, *,
                     featurizer_spec: str | None = None, ids: Sequence[Any] | None = None,
                     features: np.ndarray | None = None) -> tuple[EduClassifier, dict[str, Any]]:
    """Fit on the training part of a seeded stratified split of (texts, scores); return the classifier
    (fitted on the training part only, so the held-out metrics saved with it are the ones it earned)
    and the report.

    The report: sizes, class balance, metrics of the model, of the majority-class baseline and (with
    `compare`) of the other kind, plus the held-out ids, labels and probabilities (for plots).
    """
    from sklearn.model_selection import train_test_split

    s = settings or TrainSettings()
    scores = np.asarray(scores, dtype=int)
    y = (scores >= s.threshold).astype(int)
    if len(set(y.tolist())) < 2:
        raise ClassifierError(f"all {len(y)} annotated samples are on one side of threshold {s.threshold} "
                              f"({int(y.sum())} at or above): a classifier needs both classes; annotate more or change --threshold")
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise ClassifierError(f"only {counts.min()} sample(s) in the smaller class: too few for a held-out split")
    started = time.time()
    X = featurizer.embed(list(texts)) if features is None else features
    embed_s = time.time() - started
    index = np.arange(len(y))
    train_idx, test_idx = train_test_split(index, test_size=s.test_fraction, random_state=s.seed, stratify=y)
    started = time.time()
    model = make_estimator(s.kind, s.seed, s.n_estimators, s.n_jobs).fit(X[train_idx], y[train_idx])
    fit_s = time.time() - started
    clf = EduClassifier(model=model, featurizer_spec=featurizer_spec or featurizer.spec,
                        featurizer_fingerprint=featurizer.fingerprint, threshold=s.threshold,
                        keep_probability=s.keep_probability, kind=s.kind,
                        info={"featurizer_options": dict(getattr(featurizer, "options", {}))})
    proba = clf.predict_proba(X[test_idx])
    metrics = binary_metrics(y[test_idx], proba, s.keep_probability)
    majority = int(np.bincount(y[train_idx], minlength=2).argmax())  # the class most common in training
    baselines = {"majority": {**binary_metrics(y[test_idx], np.full(len(test_idx), float(majority)), 0.5),
                              "predicts": majority}}
    if s.compare:
        other = "logreg" if s.kind == "rf" else "rf"
        other_model = make_estimator(other, s.seed, s.n_estimators, s.n_jobs).fit(X[train_idx], y[train_idx])
        other_proba = other_model.predict_proba(X[test_idx])[:, list(other_model.classes_).index(1)]
        baselines[other] = binary_metrics(y[test_idx], other_proba, s.keep_probability)
    report = {
        "kind": s.kind, "threshold": s.threshold, "keep_probability": s.keep_probability, "seed": s.seed,
        "featurizer": clf.featurizer_spec, "featurizer_fingerprint": featurizer.fingerprint, "dim": int(X.shape[1]),
        "n": int(len(y)), "n_train": int(len(train_idx)), "n_test": int(len(test_idx)),
        "positive_fraction": float(y.mean()), "score_counts": {str(k): int((scores == k).sum()) for k in range(6)},
        "held_out": metrics, "baselines": baselines,
        "seconds": {"embed": round(embed_s, 3), "fit": round(fit_s, 3)},
        "test_ids": [ids[i] for i in test_idx] if ids is not None else test_idx.tolist(),
        "test_labels": y[test_idx].tolist(), "test_probabilities": [float(p) for p in proba],
    }
    clf.metrics = {"held_out": metrics, "baselines": baselines, "n_train": report["n_train"], "n_test": report["n_test"],
                   "positive_fraction": report["positive_fraction"]}
    return clf, report


def read_annotations(path: str | Path) -> tuple[list[Any], list[str], list[int], dict[str, int]]:
    """(ids, texts, scores, skipped) of an annotations JSONL (textbooks.data.quality.annotate records);
    records without a score (no_score / failed) or without text are skipped and counted."""
    from textbooks.jsonl import iter_jsonl

    ids, texts, scores, skipped = [], [], [], {"no_score": 0, "no_text": 0}
    for lineno, row in iter_jsonl(path, objects=True, hint="; expected annotation records from `textbooks data quality annotate`"):
        score = row.get("score")
        if score is None:
            skipped["no_score"] += 1
            continue
        if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 5:
            raise ClassifierError(f"{path}:{lineno}: score must be an integer 0..5 or null, got {score!r}")
        if not isinstance(row.get("text"), str):
            skipped["no_text"] += 1
            continue
        ids.append(row.get("id", lineno))
        texts.append(row["text"])
        scores.append(score)
    return ids, texts, scores, skipped


# --- the filter step ------------------------------------------------------------------------------------
class EducationalValueFilter(ReasonFilter):
    """Keep documents the classifier gives P(high educational value) >= keep_probability.

    Every document gets `metadata["edu_score"]` (that probability, kept or not); dropped ones get
    `drop_reason="low_educational_value"`. Documents are featurized and scored `batch_size` at a time.
    The classifier and featurizer are loaded lazily, in the worker that runs the step: the step object is
    pickled (dill) to LocalPipelineExecutor / Slurm / Ray workers and carries only paths and settings.

    featurizer: a spec overriding the one recorded with the classifier (e.g. the same model files in
      another directory); its fingerprint must still match. Its max_tokens / dtype are those recorded.
    keep_probability: default the classifier's (0.5). device: where a model featurizer runs.
    """

    name = "educational value"

    def __init__(self, model_dir: str | Path, *, featurizer: str | None = None, keep_probability: float | None = None,
                 batch_size: int = 64, device: str = "cpu", exclusion_writer=None):
        super().__init__(exclusion_writer=exclusion_writer, batch_size=batch_size)
        self.model_dir = str(model_dir)
        meta_path = Path(model_dir) / META_FILE
        if not meta_path.is_file():  # fail on the submitting machine, not in every worker
            raise ClassifierError(f"{model_dir}: not a classifier directory (no {META_FILE})")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        self.featurizer_spec = featurizer or meta["featurizer_spec"]
        self.featurizer_options = dict(meta.get("featurizer_options") or {})
        self.keep_probability = float(meta["keep_probability"] if keep_probability is None else keep_probability)
        self.device = device
        # A featurizer is cheap to make (models load on first use; their files are hashed): check its
        # fingerprint now, so a mismatch fails before any run starts, not in every worker.
        from textbooks.data.quality.featurize import load_featurizer

        fingerprint = load_featurizer(self.featurizer_spec, device=device, **self.featurizer_options).fingerprint
        if fingerprint != meta["featurizer_fingerprint"]:
            raise ClassifierError(
                f"featurizer mismatch: {model_dir} was trained on features {meta['featurizer_fingerprint']!r} (spec "
                f"{meta['featurizer_spec']!r}), but {self.featurizer_spec!r} gives {fingerprint!r}; use the same featurizer "
                "(same model files, max_tokens, dtype) or retrain the classifier on it")
        self._loaded = None  # (EduClassifier, featurizer), made in the worker

    def _load(self):
        if self._loaded is None:
            from textbooks.data.quality.featurize import load_featurizer

            featurizer = load_featurizer(self.featurizer_spec, device=self.device, **self.featurizer_options)
            self._loaded = (EduClassifier.load(self.model_dir, featurizer), featurizer)
        return self._loaded

    def filter_batch(self, batch):
        clf, featurizer = self._load()
        proba = clf.predict_proba(featurizer.embed([d.text for d in batch]))
        results = []
        for doc, p in zip(batch, proba):
            doc.metadata["edu_score"] = round(float(p), 6)
            low = min(int(p * 10), 9) / 10  # a 10-bin histogram in the step's stats (plots.probability_histogram)
            self.stat_update(f"edu_score_{low:.1f}-{low + 0.1:.1f}")
            results.append(True if p >= self.keep_probability else (False, DROP_REASON))
        return results

    def filter(self, doc):
        return self.filter_batch([doc])[0]

    def __getstate__(self):
        return {**self.__dict__, "_loaded": None}


__all__ = ["EduClassifier", "EducationalValueFilter", "TrainSettings", "train_classifier", "read_annotations",
           "binary_metrics", "make_estimator", "ClassifierError", "DROP_REASON", "DEFAULT_THRESHOLD"]
