"""`textbooks data quality annotate|train|apply`: the educational-value filter of phi-1 §2.1, in three verbs.

    textbooks data quality annotate corpus/ --out runs/edu/annotations.jsonl --annotator offline --sample 2000
    textbooks data quality annotate corpus/ --out runs/edu/annotations.jsonl \\
        --annotator http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-Coder-32B-Instruct --sample 100000
    textbooks data quality train runs/edu/annotations.jsonl --out runs/edu/model --featurizer hashed
    textbooks data quality train runs/edu/annotations.jsonl --out runs/edu/model \\
        --featurizer Salesforce/codegen-350M-mono --device cuda --dtype bfloat16
    textbooks data quality apply corpus/ --model runs/edu/model --out runs/edu/filtered

annotate writes one JSON record per sampled document (score 0-5 or null, justification, annotator,
prompt version, text) and FILE.summary.json (counts, scores, tokens and cost). LLM answers are cached in
FILE.cache.sqlite: a rerun after a crash sends only what is missing. train writes model.joblib,
classifier.json, report.json and plots/ (score histogram, ROC, confusion matrix). apply runs the
classifier as a datatrove filter step: DIR/output/ (kept, with metadata.edu_score), DIR/removed/
(drop_reason low_educational_value), DIR/stats.json.

This module only parses; the work is in textbooks.data.quality.{annotate,featurize,classifier,plots}.
"""

from __future__ import annotations

import argparse
import sys

from textbooks.data.quality.config import QualityConfig

_D = QualityConfig()  # the defaults (configs/data/curate.yaml `quality:` documents each one's source)
INPUT_HELP = "directory of .py files (recursive), .py, .jsonl[.gz] or .parquet (field 'text' or 'content', optional 'id')"


def configure(parser: argparse.ArgumentParser) -> None:
    from textbooks.cli import subparsers

    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = subparsers(parser, dest="quality_command")
    _configure_annotate(sub.add_parser("annotate", help="score a sample of documents 0-5 for educational value (LLM or offline rubric)",
                                       formatter_class=argparse.RawDescriptionHelpFormatter))
    _configure_train(sub.add_parser("train", help="train the classifier (random forest on LM or hashed features) on annotations",
                                    formatter_class=argparse.RawDescriptionHelpFormatter))
    _configure_apply(sub.add_parser("apply", help="filter documents with a trained classifier (datatrove step, any executor)",
                                    formatter_class=argparse.RawDescriptionHelpFormatter))


# --- annotate ------------------------------------------------------------------------------------------------
def _configure_annotate(p: argparse.ArgumentParser) -> None:
    from textbooks import guard

    p.description = ("Score documents for 'educational value for a student whose goal is to learn basic coding concepts'\n"
                     "(phi-1 §2.1) on an additive 0-5 rubric. --annotator offline is a deterministic stand-in\n"
                     "(offline-rubric-v1); a URL asks an LLM through textbooks.llm (cached, resumable).")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUT_HELP)
    p.add_argument("--out", required=True, metavar="FILE.jsonl", help="annotation records (rewritten atomically)")
    p.add_argument("--annotator", default=_D.annotator, metavar="offline|URL",
                   help="'offline' (the rubric stand-in) or an OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", default=_D.model, help="the judge's model name at the URL (required with a URL)")
    p.add_argument("--sample", type=guard.nonnegative_int, default=_D.sample, metavar="N",
                   help=f"annotate a uniform sample of N documents (default {_D.sample}, the paper's ~100k; 0 = all)")
    p.add_argument("--seed", type=int, default=_D.seed, help="sampling seed (default 0)")
    llm = p.add_argument_group("LLM judge")
    llm.add_argument("--prompt-version", default=_D.prompt_version, help=f"prompts/<version>.md (default {_D.prompt_version})")
    llm.add_argument("--tokenizer", metavar="DIR", help="cut samples to --sample-tokens tokens of this tokenizer "
                     f"(default: {_D.chars_per_token} characters per token)")
    llm.add_argument("--sample-tokens", type=guard.positive_int, default=_D.sample_tokens, metavar="N",
                     help=f"the judge sees the first N tokens of each document (default {_D.sample_tokens})")
    llm.add_argument("--retries", type=guard.nonnegative_int, default=_D.retries, metavar="K",
                     help=f"re-ask K times when an answer has no score line (default {_D.retries})")
    llm.add_argument("--max-answer-tokens", type=guard.positive_int, default=_D.max_answer_tokens, metavar="N")
    llm.add_argument("--temperature", type=guard.float_in(0.0), default=_D.temperature)
    llm.add_argument("--cache", metavar="FILE", help="SQLite answer cache (default: OUT.cache.sqlite)")
    llm.add_argument("--concurrency", type=guard.positive_int, default=_D.concurrency, help="requests in flight")
    llm.add_argument("--rpm", type=guard.positive_float, help="max requests per minute")
    llm.add_argument("--api-key-env", default=_D.api_key_env, metavar="VAR", help="variable holding the API key (unset = none)")
    llm.add_argument("--cost-per-1k-prompt", type=float, help="price per 1K prompt tokens, for the cost in the summary")
    llm.add_argument("--cost-per-1k-completion", type=float, help="price per 1K completion tokens")
    llm.add_argument("--max-retries", type=guard.nonnegative_int, default=6, help="HTTP retries on 429/5xx/timeouts (default 6)")
    p.add_argument("--strict", action="store_true", help="a malformed input record is an error naming file:line (default: counted, skipped)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    guard.add_overwrite_flag(p)
    p.set_defaults(func=annotate_main)


def _summary_path(out):
    return out.with_name(out.name + ".summary.json")


def annotate_main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from textbooks import guard
    from textbooks.data.quality.annotate import LLMAnnotator, OfflineRubricAnnotator, sample_documents
    from textbooks.data.sources import read_documents
    from textbooks.jsonl import write_json_atomic, write_jsonl

    guard.check_inputs(args.inputs)
    out = Path(args.out)
    # Our own earlier output of the same settings is rewritten (the answers come back from the cache); one made
    # with other settings (inputs, judge, prompt, sample) is someone else's: kept unless --overwrite.
    offline = args.annotator == "offline"
    settings = {"annotator": "offline" if offline else f"llm:{args.model}",
                "inputs": [str(Path(p).resolve()) for p in args.inputs], "sample": args.sample, "seed": args.seed,
                **{k: None if offline else getattr(args, k) for k in ("prompt_version", "sample_tokens", "temperature")}}
    ours = guard.json_marker(None, command="data quality annotate", settings=settings)
    guard.check_outputs([guard.Output(out, kind="file")], inputs=args.inputs, overwrite=args.overwrite,
                        resumable_marker=lambda path: ours(_summary_path(path)))
    if not offline and not args.annotator.startswith(("http://", "https://")):
        raise guard.UsageError(f"--annotator: 'offline' or an http(s):// base URL, got {args.annotator!r}")
    if not offline and not args.model:
        raise guard.UsageError("--model is required with an --annotator URL (the judge's model name at that server)")
    skipped: dict[str, int] = {}
    docs = sample_documents(_progress(read_documents(args.inputs, skipped, strict=args.strict), args, "read"),
                            args.sample or None, args.seed)
    if not docs:
        raise guard.UsageError(f"no documents in {', '.join(args.inputs)}")
    cache = None
    if offline:
        annotator = OfflineRubricAnnotator()
        records = annotator.annotate(_progress(docs, args, "rubric"))
        usage = None
    else:
        from textbooks.llm import LLMClient, LLMConfig

        tokenizer = None
        if args.tokenizer:
            from textbooks.tokenizer import load_tokenizer

            tokenizer = load_tokenizer(args.tokenizer)
        cache = Path(args.cache) if args.cache else out.with_name(out.name + ".cache.sqlite")
        config = LLMConfig(base_url=args.annotator, model=args.model, api_key_env=args.api_key_env or None,
                           cache_path=str(cache), concurrency=args.concurrency, rpm=args.rpm, max_retries=args.max_retries,
                           cost_per_1k_prompt=args.cost_per_1k_prompt, cost_per_1k_completion=args.cost_per_1k_completion,
                           progress=not args.no_progress)
        guard.set_resume_hint(f"answers so far are cached in {cache}: rerun the same command to send only the rest")
        with LLMClient(config) as client:
            annotator = LLMAnnotator(client, prompt_version=args.prompt_version, tokenizer=tokenizer,
                                     max_sample_tokens=args.sample_tokens, max_answer_tokens=args.max_answer_tokens,
                                     retries=args.retries, temperature=args.temperature)
            records = annotator.annotate(docs)
            usage = client.usage.to_dict()
    write_jsonl(out, records)
    stats = annotator.stats.to_dict()
    summary = {"command": "data quality annotate", "settings": settings, "annotator": annotator.name, "prompt_version": None if offline else args.prompt_version,
               "inputs": list(args.inputs), "sample": args.sample, "seed": args.seed, "skipped_inputs": skipped,
               **stats, "usage": usage, "cache": str(cache) if cache else None}
    write_json_atomic(_summary_path(out), summary)
    scores = " ".join(f"{k}:{v}" for k, v in stats["by_score"].items())
    line = (f"textbooks data quality annotate: {stats['documents']} documents -> {out} ({annotator.name}); "
            f"scores {scores}; no score {stats['no_score']}, failed {stats['failed']}")
    if usage:
        line += (f"; {usage['requests']} requests ({usage['cache_hits']} cached), {usage['prompt_tokens']} prompt + "
                 f"{usage['completion_tokens']} completion tokens" + (f", cost {usage['cost']:.4f}" if usage.get("cost") is not None else ""))
    print(line, file=sys.stderr)
    if stats["failed"]:
        errors = [r for r in records if r.get("error")]
        print(f"textbooks data quality annotate: {len(errors)} requests failed (first: {errors[0]['id']!r}: {errors[0]['error']}); "
              "rerun the same command to retry them (finished answers are cached)", file=sys.stderr)
        return 1
    return 0


def _progress(items, args, desc: str):
    if getattr(args, "no_progress", False):
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="doc", dynamic_ncols=True, leave=False)


# --- train ---------------------------------------------------------------------------------------------------
def _configure_train(p: argparse.ArgumentParser) -> None:
    from textbooks import guard

    p.description = ("Train the educational-value classifier on annotations: label = score >= --threshold, features\n"
                     "from --featurizer, a seeded stratified held-out split; reports precision/recall/F1/ROC AUC vs the\n"
                     "majority-class baseline and writes plots.")
    p.add_argument("annotations", nargs="+", metavar="ANNOTATIONS.jsonl", help="records from `data quality annotate`")
    p.add_argument("--out", required=True, metavar="DIR", help="model.joblib, classifier.json, report.json, plots/")
    p.add_argument("--featurizer", default=_D.featurizer, metavar="SPEC",
                   help="'hashed[:dim=N,n=A-B]', a model directory (ours -> Phi, else transformers), 'hf:DIR', or a hub "
                        f"id such as Salesforce/codegen-350M-mono (default {_D.featurizer})")
    p.add_argument("--classifier", choices=("rf", "logreg"), default=_D.classifier, help="random forest (paper) or logistic regression")
    p.add_argument("--threshold", type=guard.int_in(0, 5), default=_D.threshold, help=f"label = score >= this (default {_D.threshold})")
    p.add_argument("--keep-probability", type=guard.float_in(0.0, 1.0, low_open=True, high_open=True), default=_D.keep_probability,
                   help=f"keep when P(high) >= this (default {_D.keep_probability})")
    p.add_argument("--test-fraction", type=guard.float_in(0.0, 1.0, low_open=True, high_open=True), default=_D.test_fraction)
    p.add_argument("--seed", type=int, default=_D.seed)
    p.add_argument("--n-estimators", type=guard.positive_int, default=_D.n_estimators, help="trees of the forest")
    p.add_argument("--jobs", type=guard.positive_int, default=1, help="cores for the forest (default 1)")
    p.add_argument("--no-compare", action="store_true", help="do not also fit the other classifier kind for the report")
    model = p.add_argument_group("model featurizers")
    model.add_argument("--device", type=guard.device, default=_D.device)
    model.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), default=_D.dtype)
    model.add_argument("--max-tokens", type=guard.positive_int, default=_D.max_tokens, help="tokens read per document")
    model.add_argument("--batch-size", type=guard.positive_int, default=16, help="documents per forward pass")
    guard.add_overwrite_flag(p)
    p.set_defaults(func=train_main)


def train_main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from textbooks import guard
    from textbooks.data.quality.classifier import TrainSettings, read_annotations, train_classifier
    from textbooks.data.quality.featurize import load_featurizer
    from textbooks.data.quality.plots import write_training_plots

    guard.check_inputs(args.annotations, kind="file")
    # a directory holding a classifier.json is our own earlier output: training again replaces it
    guard.check_outputs([guard.Output(args.out, kind="dir")], inputs=args.annotations, overwrite=args.overwrite,
                        resumable_marker="classifier.json")
    guard.check_device(args.device)
    ids, texts, scores, skipped = [], [], [], {}
    for path in args.annotations:
        i, t, s, k = read_annotations(path)
        ids += i
        texts += t
        scores += s
        for key, v in k.items():
            skipped[key] = skipped.get(key, 0) + v
    if not texts:
        raise guard.UsageError(f"no scored annotations with text in {', '.join(args.annotations)} (skipped: {skipped})")
    featurizer = load_featurizer(args.featurizer, device=args.device, max_tokens=args.max_tokens, dtype=args.dtype)
    X = featurizer.embed(texts, batch_size=args.batch_size)
    settings = TrainSettings(kind=args.classifier, threshold=args.threshold, test_fraction=args.test_fraction, seed=args.seed,
                             n_estimators=args.n_estimators, n_jobs=args.jobs, compare=not args.no_compare,
                             keep_probability=args.keep_probability)
    clf, report = train_classifier(texts, scores, featurizer, settings, ids=ids, features=X)
    out_dir = Path(args.out)
    report["annotations"] = [str(p) for p in args.annotations]
    report["skipped_annotations"] = skipped
    report["plots"] = write_training_plots(report, out_dir / "plots")
    clf.save(out_dir, report=report)
    m, base = report["held_out"], report["baselines"]["majority"]
    other = {k: v for k, v in report["baselines"].items() if k != "majority"}
    auc = f"{m['roc_auc']:.3f}" if m["roc_auc"] is not None else "n/a"
    print(f"textbooks data quality train: {report['kind']} on {report['n_train']} samples ({featurizer.fingerprint}); "
          f"held-out {report['n_test']}: precision {m['precision']:.3f} recall {m['recall']:.3f} F1 {m['f1']:.3f} "
          f"accuracy {m['accuracy']:.3f} ROC AUC {auc}; majority baseline (always {base['predicts']}): accuracy "
          f"{base['accuracy']:.3f} F1 {base['f1']:.3f}"
          + "".join(f"; {k}: F1 {v['f1']:.3f} AUC {v['roc_auc'] if v['roc_auc'] is None else round(v['roc_auc'], 3)}" for k, v in other.items())
          + f" -> {out_dir}", file=sys.stderr)
    return 0


# --- apply ---------------------------------------------------------------------------------------------------
def _configure_apply(p: argparse.ArgumentParser) -> None:
    from textbooks import guard

    p.description = ("Apply a trained classifier to documents as a datatrove filter step: every document gets\n"
                     "metadata.edu_score = P(high educational value); those below the keep probability go to\n"
                     "DIR/removed/ with drop_reason low_educational_value. Resumable: rerun the same command.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUT_HELP)
    p.add_argument("--model", required=True, metavar="DIR", help="a directory written by `data quality train`")
    p.add_argument("--out", required=True, metavar="DIR", help="output/, removed/, stats.json, plots/")
    p.add_argument("--featurizer", metavar="SPEC", help="override the featurizer recorded with the model (same fingerprint)")
    p.add_argument("--keep-probability", type=guard.float_in(0.0, 1.0, low_open=True, high_open=True),
                   help="default: the model's (0.5)")
    p.add_argument("--batch-size", type=guard.positive_int, default=_D.batch_size, help="documents per batch")
    p.add_argument("--device", type=guard.device, default=_D.device, help="model featurizers: cpu, cuda, ...")
    p.add_argument("--executor", choices=("local", "slurm", "ray"), default="local",
                   help="where tasks run (default local); slurm/ray settings with --set executor.slurm.partition=NAME etc.")
    p.add_argument("--workers", type=guard.nonnegative_int, default=0, help="processes at once (default: all cores)")
    p.add_argument("--tasks", type=guard.nonnegative_int, default=0, help="shards (default: min(reading units, 32))")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="executor.KEY=VALUE",
                   help="an executor setting (textbooks.data.pipeline.ExecutorConfig), e.g. --set executor.slurm.partition=cpu "
                        "(repeatable)")
    p.add_argument("--tokenizer", metavar="DIR", help="count funnel tokens with this tokenizer (default: regex tokens)")
    p.add_argument("--strict", action="store_true", help="a malformed input record is an error naming file:line")
    guard.add_overwrite_flag(p)
    p.set_defaults(func=apply_main)


def apply_main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from textbooks import guard
    from textbooks.data import pipeline as pl
    from textbooks.data.quality.classifier import EducationalValueFilter
    from textbooks.data.verbs import ReadConfig, VerbRun, execute_verb

    guard.check_inputs(args.inputs)
    guard.check_inputs([args.model], kind="dir", flag="--model")
    guard.check_device(args.device)
    step_args = dict(featurizer=args.featurizer, keep_probability=args.keep_probability, batch_size=args.batch_size,
                     device=args.device)
    EducationalValueFilter(args.model, **step_args)  # fail here, on a bad --model, before any run directory is made
    model_dir = str(Path(args.model).resolve())
    run = VerbRun(verb="data quality apply", inputs=args.inputs, out_dir=Path(args.out),
                  read=ReadConfig(strict=args.strict, tokenizer=args.tokenizer or ""), executor=_executor_config(args),
                  settings={"model": model_dir, "model_sha256": _model_sha(model_dir), **step_args}, overwrite=args.overwrite)
    guard.set_resume_hint(f"rerun the same command to resume into {args.out} (finished tasks are kept)")

    def build(run: VerbRun) -> list:
        step = EducationalValueFilter(model_dir, **step_args)
        return [pl.Stage("quality", [run.reader(), *run.with_exclusions([step]), run.output_writer()], run.tasks)]

    def after(run: VerbRun) -> dict:
        return {"edu_score": _probability_plot(run.out_dir, step_args["keep_probability"], model_dir)}

    stats = execute_verb(run, build, after=after)
    for s in stats.get("steps", []):
        if s.get("step") == EducationalValueFilter.name:
            print(f"textbooks data quality apply: {s.get('in', 0)} documents, kept {s.get('kept', 0)}, dropped "
                  f"{s.get('dropped', {}).get('low_educational_value', 0)} (low_educational_value) -> {args.out}", file=sys.stderr)
    return 0


def _executor_config(args: argparse.Namespace):
    from textbooks import guard
    from textbooks.data import pipeline as pl
    from textbooks.train.config import ConfigError, load_dataclass_config

    overrides = []
    for item in args.overrides:
        if not item.startswith("executor."):
            raise guard.UsageError(f"--set {item!r}: apply takes executor settings only, e.g. --set executor.slurm.partition=cpu")
        overrides.append(item[len("executor."):])
    overrides += [f"kind={args.executor}", f"workers={args.workers}", f"tasks={args.tasks}"]
    try:
        return load_dataclass_config(pl.ExecutorConfig, None, overrides, example="slurm.partition=cpu")
    except (ConfigError, ValueError) as e:
        raise guard.UsageError(str(e)) from None


def _model_sha(model_dir: str) -> str | None:
    import json
    from pathlib import Path

    try:
        return json.loads((Path(model_dir) / "classifier.json").read_text()).get("model_sha256")
    except (OSError, ValueError):
        return None


def _probability_plot(out_dir, keep_probability, model_dir) -> dict:
    """The filter's 10-bin edu_score histogram (its stats) as plots/edu_score.png + .json."""
    import json
    from pathlib import Path

    from textbooks.data import pipeline as pl
    from textbooks.data.quality.plots import probability_histogram

    if keep_probability is None:
        keep_probability = json.loads((Path(model_dir) / "classifier.json").read_text())["keep_probability"]
    bins: dict[str, int] = {f"{k / 10:.1f}-{(k + 1) / 10:.1f}": 0 for k in range(10)}
    for step in pl.read_stage_stats(out_dir, "quality"):
        for key, value in step.get("stats", {}).items():
            if key.startswith("edu_score_") and key[len("edu_score_"):] in bins:
                bins[key[len("edu_score_"):]] += value.get("total", 0) if isinstance(value, dict) else value
    png, _ = probability_histogram(bins, Path(out_dir) / "plots" / "edu_score.png", keep_probability=keep_probability)
    return {"bins": bins, "keep_probability": keep_probability, "plot": str(png)}
