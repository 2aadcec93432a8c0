"""`textbooks data decontaminate` and `textbooks data similar` (argparse only; the work is imported when run).

    textbooks data decontaminate INPUT... --benchmarks humaneval,mbpp --out DIR [--methods ngram,embedding,ast]
                                 [--tau 0.9] [--featurizer hashed|MODEL_DIR] [--config configs/data/curate.yaml]
    textbooks data similar --benchmark humaneval --train INPUT... --tau 0.95 0.9 0.85 0.8 --out DIR

Settings come from the `decontaminate:` section of the config file (plus its `read:` and `executor:`
sections), then `--set decontaminate.KEY=VALUE`, then the flags above.
"""

from __future__ import annotations

import argparse
import sys

INPUT_HELP = ("directories of .py files (recursive), .py files, .jsonl/.jsonl.gz or .parquet with 'text' or 'content' "
              "(optional 'id'), or exercise JSONL with 'prompt' + 'completion' (compared as prompt + completion)")
SECTIONS = ("read", "decontaminate", "executor")
SIMILAR_METHODS = ("embedding", "ast")


def _common(parser: argparse.ArgumentParser) -> None:
    from textbooks import guard

    parser.add_argument("--methods", metavar="LIST", help="comma-separated of ngram,embedding,ast (default: decontaminate "
                        "all three, from the config; similar embedding,ast, the paper's Table 3 methods)")
    parser.add_argument("--featurizer", metavar="SPEC", help="embeddings: 'hashed' (CPU, offline), a Hugging Face causal-LM "
                        "dir or id (the paper: CodeGen-Mono 350M), or our checkpoint dir (default: hashed)")
    parser.add_argument("--embedding-threshold", type=guard.float_in(0.0, None, low_open=True), metavar="D",
                        help="flag snippets within this L2 distance of a solution (default 0.5, calibrated for 'hashed'; "
                        "recalibrate for a model featurizer)")
    parser.add_argument("--config", metavar="FILE", help="settings file with a decontaminate: section (default: "
                        "configs/data/curate.yaml of a checkout, else built-in defaults)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting, e.g. --set decontaminate.ast_min_nodes=15 (repeatable)")
    parser.add_argument("--executor", choices=("local", "slurm", "ray"), help="where tasks run (default local)")
    parser.add_argument("--workers", type=guard.positive_int, metavar="N", help="tasks at once (default: all cores)")
    parser.add_argument("--tasks", type=guard.positive_int, metavar="N", help="shards of the input (default min(units, 32))")
    parser.add_argument("--strict", action="store_true", help="a malformed input record is an error naming file:line")
    guard.add_overwrite_flag(parser)


def configure(parser: argparse.ArgumentParser) -> None:
    """`textbooks data decontaminate`."""
    from textbooks import guard

    parser.description = ("Flag training documents similar to benchmark problems (paper §5: 13-gram overlap, embedding "
                          "distance, AST match rate tau) and remove them. DIR gets output/ (clean), removed/ (flagged, "
                          "with the evidence), report.jsonl (one line per flagged document: id, matches of task_id, "
                          "method, score), report.md (each pair side by side) and stats.json.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUT_HELP)
    parser.add_argument("--benchmarks", metavar="LIST", help="comma-separated: humaneval, mbpp (all 974), mbpp:test, "
                        "mbpp-sanitized, or a JSONL of task_id/text/solution (default: humaneval,mbpp)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (a rerun of the same command resumes)")
    parser.add_argument("--tau", type=guard.float_in(0.0, 1.0, low_open=True), metavar="T",
                        help="AST match rate at or above which a function is a match (default 0.9; the paper tests 0.95-0.8)")
    _common(parser)
    parser.set_defaults(func=_run_decontaminate)


def configure_similar(parser: argparse.ArgumentParser) -> None:
    """`textbooks data similar`."""
    from textbooks import guard

    parser.description = ("Split a benchmark into tasks similar / not similar to the training data, for each match rate "
                          "tau (paper Table 3). DIR gets similar-tauT.txt (one task id a line, for `textbooks eval report "
                          "--similar-ids`), similar-tauT.json (with the matching training ids and scores) and similar.json.")
    parser.add_argument("--benchmark", default="humaneval", help="the benchmark to split (default humaneval)")
    parser.add_argument("--train", nargs="+", required=True, metavar="INPUT", help=INPUT_HELP)
    parser.add_argument("--tau", nargs="+", type=guard.float_in(0.0, 1.0, low_open=True), default=[0.95, 0.9, 0.85, 0.8],
                        metavar="T", help="AST match rates (default: the paper's 0.95 0.9 0.85 0.8)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    _common(parser)
    parser.set_defaults(func=_run_similar)


# --- handlers (heavy imports from here on) -----------------------------------------------------------


def load_settings(args: argparse.Namespace, cli: dict[str, object]):
    """(ReadConfig, DecontaminateConfig, ExecutorConfig) from --config's read/decontaminate/executor
    sections, --set overrides, then the flags in `cli` (key -> value under decontaminate)."""
    from pathlib import Path

    import yaml

    from textbooks.data.decontam.detect import DecontaminateConfig
    from textbooks.data.pipeline import ExecutorConfig
    from textbooks.data.verbs import ReadConfig
    from textbooks.train.config import ConfigError, _build, _parse_scalar, _set_path, _Source

    path = args.config
    if path is None:  # configs/data/curate.yaml of a source checkout; an installed wheel has none: defaults
        shipped = Path(__file__).resolve().parents[3] / "configs" / "data" / "curate.yaml"
        path = shipped if shipped.is_file() else None
    values: dict = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p} (the shipped one is configs/data/curate.yaml)")
        try:
            values = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {e}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{p}: the top level must be a mapping of sections")
        values = {k: v for k, v in values.items() if k in SECTIONS}  # other verbs' sections are theirs to check
    origins: dict[str, str] = {}
    items = list(args.overrides)
    for flag, key in (("executor", "executor.kind"), ("workers", "executor.workers"), ("tasks", "executor.tasks")):
        if getattr(args, flag, None) is not None:
            items.append(f"{key}={getattr(args, flag)}")
    if args.strict:
        items.append("read.strict=true")
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or key.split(".")[0] not in SECTIONS:
            raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE with SECTION one of {', '.join(SECTIONS)}, "
                              "e.g. --set decontaminate.tau=0.95")
        _set_path(values, key.strip().split("."), _parse_scalar(raw), item)
        origins[key.strip()] = f"--set {item}"
    section = values.setdefault("decontaminate", {}) or {}
    values["decontaminate"] = section
    for key, value in cli.items():
        if value is not None:
            section[key] = value
            origins[f"decontaminate.{key}"] = f"--{key.replace('_', '-')}"
    src = _Source(str(path) if path else "defaults", origins)
    read = _build(ReadConfig, values.get("read"), "read.", src)
    executor = _build(ExecutorConfig, values.get("executor"), "executor.", src)
    try:
        decont = _build(DecontaminateConfig, section, "decontaminate.", src)
    except ConfigError:
        raise
    except ValueError as e:  # DecontaminateConfig's own checks (methods, tau, threshold, benchmarks)
        raise ConfigError(f"decontaminate: {e}") from None
    return read, decont, executor


def _split(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _settings_or_usage(args, cli):
    from textbooks import guard
    from textbooks.train.config import ConfigError

    try:
        return load_settings(args, cli)
    except (ConfigError, ValueError) as e:
        raise guard.UsageError(str(e)) from None


def check_featurizer_spec(spec: str) -> None:
    """ValueError unless `spec` can name a featurizer (`load_featurizer`'s kinds), without loading or
    hashing a model: hashed options are parsed, a directory must hold config.json, else a hub id."""
    import re
    from pathlib import Path

    from textbooks.data.quality.featurize import load_featurizer

    kind, sep, rest = spec.partition(":")
    if kind == "hashed":
        load_featurizer(spec)  # cheap: parses the options
        return
    target = rest if kind in ("hf", "phi") and sep else spec
    path = Path(target)
    if path.exists():
        if not (path.is_dir() and (path / "config.json").is_file()):
            raise ValueError(f"featurizer {spec}: not a model directory holding config.json")
        return
    if kind in ("hf", "phi") and sep or not re.match(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", spec):
        raise ValueError(f"featurizer {spec!r}: not 'hashed[:dim=N,n=A-B]', not an existing directory, not a hub id "
                         "(owner/name); expected one of those")


def _featurizer_or_usage(config, given: bool = False):
    """The featurizer, loaded (not its weights) before any work, so a bad --featurizer is a usage error.
    When no method embeds, the spec is still checked (a typo is refused) and, if `given` on the command
    line, a warning says it is unused."""
    from textbooks import guard

    if not config.needs_embeddings:
        try:
            check_featurizer_spec(config.featurizer)
        except (ValueError, FileNotFoundError, ImportError) as e:
            raise guard.UsageError(f"--featurizer {config.featurizer}: {e}") from None
        if given:
            print(f"warning: --featurizer {config.featurizer} is not used: methods {','.join(config.methods)} need no "
                  "embeddings (add embedding to --methods, or set decontaminate.ast_blocking=embedding)", file=sys.stderr)
        return None
    from textbooks.data.quality.featurize import load_featurizer

    try:
        return load_featurizer(config.featurizer, device=config.embedding_device)
    except (ValueError, FileNotFoundError, ImportError) as e:
        raise guard.UsageError(f"--featurizer {config.featurizer}: {e}") from None


def _truncation_warning(verb: str, truncated: dict | None) -> None:
    if truncated and truncated.get("documents"):
        print(f"textbooks data {verb}: warning: {truncated['documents']} document(s) have more than max_snippets = "
              f"{truncated['max_snippets']} functions; {truncated['functions']} function(s) were not compared "
              "(raise decontaminate.max_snippets to compare them)", file=sys.stderr)


def _run_decontaminate(args: argparse.Namespace) -> int:
    from textbooks import guard
    from textbooks.data.pipeline import PipelineError

    guard.check_inputs(args.inputs)
    read, config, executor = _settings_or_usage(args, {
        "benchmarks": _split(args.benchmarks), "methods": _split(args.methods), "tau": args.tau,
        "featurizer": args.featurizer, "embedding_threshold": args.embedding_threshold})
    guard.check_outputs([guard.Output(args.out, kind="dir")], inputs=args.inputs, overwrite=args.overwrite,
                        resumable_marker="run.json")
    featurizer = _featurizer_or_usage(config, given=args.featurizer is not None)
    guard.set_resume_hint(f"finished tasks are kept: rerun the same command to resume into {args.out}")
    from textbooks.data.decontam.run import decontaminate

    try:
        stats = decontaminate(args.inputs, args.out, config, read=read, executor=executor, overwrite=args.overwrite,
                              featurizer=featurizer)
    except PipelineError as e:
        raise guard.CommandError(str(e)) from None
    d = stats.get("decontamination")
    if d is None:
        print("textbooks data decontaminate: submitted; rerun the same command when the jobs finish", file=sys.stderr)
        return 0
    read_step = next((s for s in stats["steps"] if "READER" in s.get("step", "")), {})
    by = ", ".join(f"{m} {n}" for m, n in d["flagged_by_method"].items())
    print(f"textbooks data decontaminate: {read_step.get('kept', '?')} documents, {d['documents_flagged']} flagged"
          + (f" ({by})" if by else "") + f" against {', '.join(config.benchmarks)} -> {args.out}/output; "
          f"report: {args.out}/report.jsonl, pairs side by side: {args.out}/report.md", file=sys.stderr)
    _truncation_warning("decontaminate", d.get("snippets_truncated"))
    return 0


def _run_similar(args: argparse.Namespace) -> int:
    from textbooks import guard
    from textbooks.data.pipeline import PipelineError

    guard.check_inputs(args.train, flag="--train")
    from textbooks.data.decontam.similar import check_taus

    try:
        taus = check_taus(args.tau)
    except ValueError as e:
        raise guard.UsageError(str(e)) from None
    read, config, executor = _settings_or_usage(args, {
        # Table 3 is the paper's §5.2 analysis: embedding + AST (its §5.1 13-gram check is a separate count).
        "methods": _split(args.methods) or list(SIMILAR_METHODS), "featurizer": args.featurizer,
        "embedding_threshold": args.embedding_threshold})
    guard.check_outputs([guard.Output(args.out, kind="dir")], inputs=args.train, overwrite=args.overwrite,
                        resumable_marker="run.json")
    featurizer = _featurizer_or_usage(config, given=args.featurizer is not None)
    guard.set_resume_hint(f"finished tasks are kept: rerun the same command to resume into {args.out}")
    from textbooks.data.decontam.similar import similar_tasks, tau_name

    try:
        stats = similar_tasks(args.benchmark, args.train, args.out, taus, config, read=read, executor=executor,
                              overwrite=args.overwrite, featurizer=featurizer)
    except PipelineError as e:
        raise guard.CommandError(str(e)) from None
    except (ValueError, FileNotFoundError) as e:
        raise guard.UsageError(str(e)) from None
    summary = stats.get("similar")
    if summary is None:
        print("textbooks data similar: submitted; rerun the same command when the jobs finish", file=sys.stderr)
        return 0
    print(f"{'tau':>5} {'similar':>8} {'non-similar':>12}  file")
    for tau in taus:
        row = summary["taus"][f"{tau:.2f}"]
        print(f"{tau:5.2f} {row['similar']:8d} {row['non_similar']:12d}  {args.out}/{tau_name(tau)}.txt")
    print(f"textbooks data similar: {summary['tasks']} {args.benchmark} tasks; then: textbooks eval report --results "
          f"RESULTS.jsonl --similar-ids {args.out}/{tau_name(max(taus))}.txt --out REPORT_DIR", file=sys.stderr)
    _truncation_warning("similar", summary.get("snippets_truncated"))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m textbooks.data.decontam.cli decontaminate|similar ...` (before the verbs are in `textbooks data`)."""
    from textbooks.cli import _Parser, subparsers

    parser = _Parser(prog="python -m textbooks.data.decontam.cli")
    sub = subparsers(parser, dest="verb")
    configure(sub.add_parser("decontaminate"))
    configure_similar(sub.add_parser("similar"))
    args = parser.parse_args(argv)
    from textbooks import guard

    try:
        return int(args.func(args) or 0)
    except Exception as e:  # noqa: BLE001 - the same one-line errors as `textbooks` (textbooks.cli.main)
        known = guard.describe_error(e)
        if known is None:
            raise
        print(f"{parser.prog} {args.verb}: error: {known[0]}", file=sys.stderr)
        return known[1]


if __name__ == "__main__":
    sys.exit(main())
