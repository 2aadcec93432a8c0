"""Pictures of a data run from its stats.json: the funnel (documents and tokens after each step) and
dedup cluster sizes. PNG via matplotlib's Agg backend (no display needed) plus the numbers as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path


def funnel_rows(stats: dict) -> list[dict]:
    """[{step, documents, tokens, dropped: {reason: n}}]: what is left after each reading/filtering step."""
    rows = []
    for s in stats.get("steps", []):
        # The funnel: the input reader, then every filter; intermediate readers re-read a stage's output.
        if "kept" not in s or not ("FILTER" in s["step"] or s["step"].endswith("read inputs")):
            continue
        label = s["step"].split(": ", 1)[-1].encode("ascii", "ignore").decode().strip()
        if s.get("stage") and s["stage"] not in label:
            label = f"{s['stage']}: {label}"
        rows.append({
            "step": label,
            "documents": s["kept"],
            "tokens": s.get("tokens_kept", 0),
            "dropped": s.get("dropped", s.get("skipped", {})),
        })
    return rows


def write_funnel(stats: dict, out_dir: Path) -> dict[str, Path]:
    """funnel.json + funnel.png in `out_dir`; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    rows = funnel_rows(stats)
    paths = {"json": out_dir / "funnel.json", "png": out_dir / "funnel.png"}
    paths["json"].write_text(json.dumps({"token_unit": stats.get("token_unit"), "rows": rows}, indent=2) + "\n")
    if not rows:
        return paths
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(rows) + 1.6), sharey=True)
    labels = [r["step"] for r in rows][::-1]
    for ax, key, title in ((axes[0], "documents", "documents kept"), (axes[1], "tokens", "tokens kept")):
        values = [r[key] for r in rows][::-1]
        ax.barh(labels, values, color="#4878a8")
        first = rows[0][key] or 1
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:,} ({100 * v / first:.0f}%)", va="center", fontsize=8)
        ax.set_title(title if key == "documents" else f"{title} ({stats.get('token_unit', 'tokens')})", fontsize=9)
        ax.set_xlim(0, max(values) * 1.35 or 1)
    fig.suptitle(f"data {stats.get('verb', '')}: what each step keeps")
    fig.tight_layout()
    fig.savefig(paths["png"], dpi=110)
    plt.close(fig)
    return paths


def write_cluster_sizes(sizes: dict[str, int], out_dir: Path) -> Path:
    """dedup_clusters.png: how many duplicate clusters have each size (size -> count)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(out_dir) / "dedup_clusters.png"
    items = sorted((int(k), v) for k, v in sizes.items())
    fig, ax = plt.subplots(figsize=(6, 3.2))
    if items:
        ax.bar([str(k) for k, _ in items], [v for _, v in items], color="#a86448")
    ax.set_xlabel("cluster size (documents)")
    ax.set_ylabel("clusters")
    ax.set_yscale("log" if items and max(v for _, v in items) > 50 else "linear")
    ax.set_title("near-duplicate clusters")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
