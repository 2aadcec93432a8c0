"""Decontamination: throughput of each detector against HumanEval + MBPP on the embedded corpus, how it grows
with the corpus, and the measurements behind the default thresholds.

1. Throughput: documents/s (and MB/s) of each detector alone (ngram, embedding with the hashed featurizer,
   ast) and of all three, on samples of 250, 500, 1000, 2000 files of the embedded corpus (stdlib +
   site-packages, every k-th file, the same on every machine), one process. Time includes snippet
   extraction (parsing); the detector (references, index, reference embeddings) is built once, its build
   time is reported apart.
2. Calibration: on disguised copies of all 1,138 solutions (textbooks.data.decontam.perturb)
   and on every function of 400 stdlib files: recall and false-positive rates of the AST detector per tau,
   ast_min_nodes and ast_names; distances of the hashed featurizer for each kind of disguise and for
   unrelated functions (what embedding_threshold = 0.5 rests on).
3. The Table 3 view against the standard library as "training data": HumanEval tasks similar at each tau.
4. Search: exact k-NN (numpy) against faiss's IndexFlatIP (when faiss is importable) for 200,000 random
   768-d unit vectors against 1,138 references, k=32: does an ANN library earn its place?

    python benchmarks/bench_decontaminate.py                # all of it (~15 min on 2 cores)
    python benchmarks/bench_decontaminate.py --quick        # 100/200 files, calibration on 100 files
    python benchmarks/bench_decontaminate.py --only search  # just 4, merged into the existing results file
    python benchmarks/bench_decontaminate.py --only calibration --featurizer MODEL_DIR  # distances for a model
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

from textbooks.data.decontam import ast_match as am  # noqa: E402
from textbooks.data.decontam.detect import DecontaminateConfig, Decontaminator  # noqa: E402
from textbooks.data.decontam.perturb import disguise  # noqa: E402
from textbooks.data.decontam.references import load_references  # noqa: E402
from textbooks.data.sources import default_corpus_paths, iter_units, list_units, stdlib_dir  # noqa: E402

BATCH = 64  # documents per scan, as the datatrove step batches them


def corpus_sample(n: int) -> list:
    units = [u for u in list_units(default_corpus_paths()) if u.kind == "py"]
    step = max(1, len(units) // n)
    docs = list(iter_units(units[::step][:n], {}, max_bytes=1_000_000))
    return docs


def time_detector(det: Decontaminator, docs) -> dict:
    start = time.perf_counter()
    flagged = 0
    for lo in range(0, len(docs), BATCH):
        batch = [d.text for d in docs[lo:lo + BATCH]]
        flagged += sum(det.decide(m) for m in det.scan(batch))
    secs = time.perf_counter() - start
    mb = sum(len(d.text.encode()) for d in docs) / 1e6
    return {"documents": len(docs), "mb": round(mb, 2), "seconds": round(secs, 2),
            "docs_per_s": round(len(docs) / secs, 1), "mb_per_s": round(mb / secs, 3), "flagged": flagged}


def throughput(refs, sizes) -> dict:
    out = {}
    for name, methods in (("ngram", ["ngram"]), ("embedding", ["embedding"]), ("ast", ["ast"]), ("all", ["ngram", "embedding", "ast"])):
        start = time.perf_counter()
        det = Decontaminator(DecontaminateConfig(methods=methods), references=refs)
        build = time.perf_counter() - start
        rows = []
        for n in sizes:
            docs = corpus_sample(n)
            rows.append(time_detector(det, docs))
            print(f"{name:9s} {rows[-1]}", flush=True)
        out[name] = {"build_seconds": round(build, 2), "by_corpus_size": rows}
    return out


def planted_snippets(refs):
    out = []
    for i, r in enumerate(refs):
        snippets = am.code_snippets(disguise(r.solution, seed=i))
        out.append(max(snippets, key=lambda s: am.match_rate(s.tree, r.function.tree)))
    return out


def calibrate(refs, n_files: int, featurizer: str = "hashed") -> dict:
    from textbooks.data.decontam.embedding import nearest
    from textbooks.data.quality.featurize import load_featurizer

    units = [u for u in list_units([stdlib_dir()]) if u.kind == "py"]
    random.Random(0).shuffle(units)
    docs = list(iter_units(units[:n_files], {}))
    result: dict = {"unrelated_files": len(docs)}
    planted = planted_snippets(refs)
    for names in ("ignore", "keep-api"):
        ref_snips = [am.function_snippet(r.function.source, r.function.name, names) or r.function for r in refs]
        per_doc = [am.code_snippets(d.text, names=names) for d in docs]
        flat = [s for ss in per_doc for s in ss]
        hits = am.best_rates([s.tree for s in flat], [s.tree for s in ref_snips], 0.8)
        ref_nodes = np.array([s.nodes for s in ref_snips])
        rows = []
        for min_nodes in (8, 10, 12, 15):
            usable = int((ref_nodes >= min_nodes).sum())
            for tau in (0.95, 0.9, 0.85, 0.8):
                fn_hit = [s.nodes >= min_nodes and any(sc >= tau and ref_nodes[j] >= min_nodes for j, sc in h)
                          for s, h in zip(flat, hits)]
                k, files = 0, 0
                for ss in per_doc:
                    files += any(fn_hit[k:k + len(ss)])
                    k += len(ss)
                eligible = sum(s.nodes >= min_nodes for s in flat)
                rows.append({"min_nodes": min_nodes, "tau": tau, "solutions_comparable": usable,
                             "planted_recall_upper_bound": round(usable / len(refs), 3),
                             "fp_functions": sum(fn_hit), "functions": eligible,
                             "fp_function_rate": round(sum(fn_hit) / max(1, eligible), 5),
                             "fp_files": files, "fp_file_rate": round(files / len(docs), 4)})
        result[f"ast_names_{names}"] = rows
        print(f"calibration ast_names={names}: done", flush=True)
    # Planted recall of the whole default detector (embedding OR ast) on all 1,138 disguised copies.
    det = Decontaminator(DecontaminateConfig(methods=["embedding", "ast"]), references=refs)
    texts = [disguise(r.solution, seed=i) for i, r in enumerate(refs)]
    found = [m for lo in range(0, len(texts), BATCH) for m in det.scan(texts[lo:lo + BATCH])]
    flagged = [bool(m) for m in found]
    right = [any(x.task_id == r.task_id for x in m) for m, r in zip(found, refs)]
    result["planted_all_solutions"] = {"copies": len(refs), "recall": round(sum(flagged) / len(refs), 4),
                                       "attributed": round(sum(right) / len(refs), 4)}
    # Featurizer distances: disguised / reformatted copies vs their solution, unrelated functions vs the nearest
    # solution; embedding_threshold should sit below the unrelated quantiles.
    f = load_featurizer(featurizer)
    ref_vecs = f.embed([r.function.source for r in refs])
    own = np.linalg.norm(f.embed([s.source for s in planted]) - ref_vecs, axis=1)
    verbatim_reformatted = []
    import ast as _ast
    for r in refs:
        verbatim_reformatted.append(_ast.unparse(_ast.parse(r.function.source)))
    own_reformat = np.linalg.norm(f.embed(verbatim_reformatted) - ref_vecs, axis=1)
    flat = [s.source for d in docs for s in am.code_snippets(d.text)]
    unrelated, _ = nearest(f.embed(flat), ref_vecs, 1)
    q = [0.001, 0.01, 0.05, 0.5]
    result["embedding_distances"] = {
        "featurizer": f.fingerprint,
        "disguised_copy_to_own": dict(zip(map(str, [0.05, 0.5, 0.95]), np.quantile(own, [0.05, 0.5, 0.95]).round(3).tolist())),
        "reformatted_copy_to_own": dict(zip(map(str, [0.5, 0.9, 0.95]), np.quantile(own_reformat, [0.5, 0.9, 0.95]).round(3).tolist())),
        "unrelated_function_to_nearest": dict(zip(map(str, q), np.quantile(unrelated[:, 0], q).round(3).tolist())),
        "unrelated_functions": len(flat),
        "unrelated_under_0.5": int((unrelated[:, 0] < 0.5).sum()),
        "reformatted_under_0.5": round(float((own_reformat < 0.5).mean()), 3),
        "disguised_under_0.5": round(float((own < 0.5).mean()), 3),
    }
    return result


def similar_vs_stdlib(refs, n_files: int | None) -> dict:
    from textbooks.data.decontam.similar import is_similar

    cfg = DecontaminateConfig(methods=["embedding", "ast"], tau=0.8, benchmarks=["humaneval"])
    he = [r for r in refs if r.benchmark == "humaneval"]
    det = Decontaminator(cfg, references=he)
    units = [u for u in list_units([stdlib_dir()]) if u.kind == "py"][:n_files]
    docs = list(iter_units(units, {}))
    best: dict = {}
    start = time.perf_counter()
    for lo in range(0, len(docs), BATCH):
        for m_list in det.scan([d.text for d in docs[lo:lo + BATCH]], all_matches=True):
            for m in m_list:
                entries = best.setdefault(m.task_id, {}).setdefault(m.method, [])
                entries.append({"score": m.score})
                entries.sort(key=lambda e: e["score"] if m.method == "embedding" else -e["score"])
    secs = time.perf_counter() - start
    return {"training_files": len(docs), "seconds": round(secs, 1),
            "similar": {f"{tau:.2f}": sum(is_similar(best.get(r.task_id, {}), tau, cfg) for r in he)
                        for tau in (0.95, 0.9, 0.85, 0.8)},
            "paper_table3_vs_codeexercises": {"0.95": 71, "0.90": 93, "0.85": 106, "0.80": 116}}


def search_timing(n: int = 200_000, dim: int = 768, k: int = 32) -> dict:
    from textbooks.data.decontam.embedding import nearest

    rng = np.random.default_rng(0)
    q = rng.normal(size=(n, dim)).astype(np.float32)
    r = rng.normal(size=(1138, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    r /= np.linalg.norm(r, axis=1, keepdims=True)
    out: dict = {"queries": n, "references": len(r), "dim": dim, "k": k}
    results = {}
    for method in ("exact", "faiss"):
        try:
            start = time.perf_counter()
            results[method] = nearest(q, r, k, method)[1]
            out[f"{method}_seconds"] = round(time.perf_counter() - start, 2)
        except ImportError:
            out[f"{method}_seconds"] = None
    if "faiss" in results:
        out["same_neighbours"] = round(float((results["exact"] == results["faiss"]).mean()), 4)
    print("search", out, flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--only", choices=("search", "calibration"), help="run one part and merge it into the existing results file")
    parser.add_argument("--featurizer", default="hashed", help="featurizer spec whose distances the calibration measures "
                        "(a model dir to recalibrate embedding_threshold for it)")
    args = parser.parse_args()
    if args.only:
        import json

        from _common import RESULTS

        path = RESULTS / "decontaminate.json"
        payload = json.loads(path.read_text()) if path.is_file() else {}
        payload.pop("benchmark", None)
        payload.pop("machine", None)
        if args.only == "search":
            payload["search"] = search_timing()
        else:
            payload["calibration"] = calibrate(load_references(["humaneval", "mbpp"]), 400, args.featurizer)
        write_result("decontaminate", payload)
        return 0
    refs = load_references(["humaneval", "mbpp"])
    sizes = (100, 200) if args.quick else (250, 500, 1000, 2000)
    payload: dict = {"references": len(refs), "quick": args.quick, "batch": BATCH,
                     "defaults": DecontaminateConfig().describe()}
    if not args.skip_throughput:
        payload["throughput"] = throughput(refs, sizes)
    payload["calibration"] = calibrate(refs, 100 if args.quick else 400, args.featurizer)
    payload["similar_humaneval_vs_stdlib"] = similar_vs_stdlib(refs, 200 if args.quick else None)
    payload["search"] = search_timing(20_000 if args.quick else 200_000)
    print(payload["calibration"]["planted_all_solutions"], payload["similar_humaneval_vs_stdlib"])
    write_result("decontaminate" + ("_quick" if args.quick else ""), payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
