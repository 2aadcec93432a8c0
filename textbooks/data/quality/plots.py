"""Plots of the educational-value stage, each a PNG plus the JSON of the numbers drawn.

- `score_histogram`: annotated scores 0-5 (what the judge said), with the label threshold marked;
- `probability_histogram`: the classifier's P(high value) over a corpus (from the filter's stats), with
  the keep line;
- `roc_curve_plot`: held-out ROC curve with its AUC and the chance diagonal;
- `confusion_plot`: the held-out confusion matrix at the keep threshold.

matplotlib is used through `matplotlib.figure.Figure` (the Agg canvas, no pyplot state, no display), so
plots work in workers, on servers and in tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from textbooks.jsonl import write_json_atomic


def _figure(width: float = 5.0, height: float = 3.6):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig, fig.subplots()


def _save(fig, data: dict[str, Any], out_png: Path) -> tuple[Path, Path]:
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png)
    out_json = out_png.with_suffix(".json")
    write_json_atomic(out_json, data)
    return out_png, out_json


def score_histogram(scores: Sequence[int | None], out_png: Path, *, threshold: int | None = None,
                    title: str = "educational value (annotated)") -> tuple[Path, Path]:
    counts = [sum(1 for s in scores if s == k) for k in range(6)]
    missing = sum(1 for s in scores if s is None)
    fig, ax = _figure()
    colors = ["#bbbbbb" if threshold is not None and k < threshold else "#3b7dd8" for k in range(6)]
    ax.bar(range(6), counts, color=colors)
    for k, c in enumerate(counts):
        ax.annotate(str(c), (k, c), ha="center", va="bottom", fontsize=8)
    if threshold is not None:
        ax.axvline(threshold - 0.5, color="#d62728", linestyle="--", label=f"label threshold >= {threshold}")
        ax.legend(loc="upper left", fontsize=8)
    ax.set(xlabel="score (0-5)", ylabel="samples", title=title + (f" ({missing} without a score)" if missing else ""),
           xticks=range(6))
    data = {"counts": {str(k): c for k, c in enumerate(counts)}, "no_score": missing, "threshold": threshold,
            "n": len(scores)}
    return _save(fig, data, out_png)


def probability_histogram(bins: dict[str, int], out_png: Path, *, keep_probability: float,
                          title: str = "P(high educational value) over the corpus") -> tuple[Path, Path]:
    """bins: {"0.0-0.1": count, ...} as the filter step counts them (stats `edu_score_<lo>-<hi>`)."""
    labels = sorted(bins, key=lambda b: float(b.split("-")[0]))
    lows = [float(b.split("-")[0]) for b in labels]
    fig, ax = _figure()
    ax.bar(lows, [bins[b] for b in labels], width=0.1, align="edge",
           color=["#bbbbbb" if lo + 0.05 < keep_probability else "#3b7dd8" for lo in lows])
    ax.axvline(keep_probability, color="#d62728", linestyle="--", label=f"keep >= {keep_probability:g}")
    ax.legend(loc="upper right", fontsize=8)
    ax.set(xlabel="edu_score", ylabel="documents", title=title, xlim=(0, 1))
    return _save(fig, {"bins": {b: bins[b] for b in labels}, "keep_probability": keep_probability}, out_png)


def roc_curve_plot(labels: Sequence[int], probabilities: Sequence[float], out_png: Path, *,
                   title: str = "held-out ROC") -> tuple[Path, Path]:
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, thresholds = roc_curve(list(labels), list(probabilities))
    auc = float(roc_auc_score(list(labels), list(probabilities)))
    fig, ax = _figure(4.2, 4.0)
    ax.plot(fpr, tpr, color="#3b7dd8", label=f"classifier (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="#999999", linestyle=":", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right", fontsize=8)
    data = {"auc": auc, "fpr": [float(x) for x in fpr], "tpr": [float(x) for x in tpr],
            # roc_curve's first threshold is +inf (no positives): JSON has no inf, so it is written as null
            "thresholds": [float(x) if x != float("inf") else None for x in thresholds]}
    return _save(fig, data, out_png)


def confusion_plot(matrix: Sequence[Sequence[int]], out_png: Path, *, keep_probability: float = 0.5,
                   title: str = "held-out confusion matrix") -> tuple[Path, Path]:
    fig, ax = _figure(4.0, 3.6)
    ax.imshow(matrix, cmap="Blues")
    names = ["low", "high"]
    top = max(max(row) for row in matrix) or 1
    for i in range(2):
        for j in range(2):  # white on the dark cells, black on the light ones
            ax.text(j, i, str(matrix[i][j]), ha="center", va="center", fontsize=12,
                    color="white" if matrix[i][j] > top / 2 else "black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=names, yticklabels=names, xlabel=f"predicted (P >= {keep_probability:g})",
           ylabel="annotated", title=title)
    (tn, fp), (fn, tp) = matrix
    return _save(fig, {"matrix": [list(map(int, row)) for row in matrix], "tn": tn, "fp": fp, "fn": fn, "tp": tp,
                       "keep_probability": keep_probability}, out_png)


def write_training_plots(report: dict[str, Any], out_dir: Path) -> dict[str, str]:
    """The three plots of a training report (`train_classifier`) into out_dir; returns {name: png path}.
    The score histogram is drawn from the report's score counts (plus annotations without a score)."""
    out_dir = Path(out_dir)
    counts = report.get("score_counts") or {}
    scores: list[int | None] = [int(k) for k, c in counts.items() for _ in range(int(c))]
    scores += [None] * int((report.get("skipped_annotations") or {}).get("no_score", 0))
    held_out = report["held_out"]
    made = {
        "score_histogram": score_histogram(scores, out_dir / "score_histogram.png", threshold=report["threshold"])[0],
        "roc": roc_curve_plot(report["test_labels"], report["test_probabilities"], out_dir / "roc.png",
                              title=f"held-out ROC ({report['kind']}, {report['n_test']} samples)")[0],
        "confusion": confusion_plot(held_out["confusion_matrix"], out_dir / "confusion.png",
                                    keep_probability=report["keep_probability"])[0],
    }
    return {k: str(v) for k, v in made.items()}


__all__ = ["score_histogram", "probability_histogram", "roc_curve_plot", "confusion_plot", "write_training_plots"]
