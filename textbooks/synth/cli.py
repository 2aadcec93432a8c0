"""`textbooks synth textbooks|exercises|report`: synthetic data from any teacher, verified, deduplicated,
decontaminated (the logic is in textbooks.synth.run; this module parses and calls)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from textbooks.cli import add_subcommands

SUBCOMMANDS = {
    "exercises": ("textbooks.synth.cli:configure_exercises",
                  "CodeExercises (signature + docstring -> body) with tests, kept only when they pass in the sandbox"),
    "textbooks": ("textbooks.synth.cli:configure_textbooks",
                  "textbook sections (prose interleaved with Python), every code block run in the sandbox"),
    "report": ("textbooks.synth.cli:configure_report",
               "diversity report of a generated set: distinct n-grams, near-duplicates, topics, openings (JSON + PNG)"),
}

EPILOG = """examples:
  textbooks synth exercises --teacher offline --n 2000 --seed 0 --out synth/ex
  textbooks synth textbooks --teacher http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-Coder-7B-Instruct --n 500 --out synth/tb
  textbooks synth report synth/ex

outputs (DIR): {kind}.jsonl, dropped.jsonl (every answer not kept, with its reason), stats.json, run.json,
teacher.cache.sqlite (endpoint teachers: a killed run relaunched with the same command pays for nothing twice).
"""


def configure(parser) -> None:
    add_subcommands(parser, SUBCOMMANDS, dest="synth_command")


def _configure_kind(p: argparse.ArgumentParser, kind: str) -> None:
    from textbooks import guard

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG.format(kind=kind)
    p.add_argument("--teacher", default="offline", metavar="offline|URL",
                   help="'offline' (the procedural stand-in, no network) or an OpenAI-compatible base URL "
                        "(vLLM, textbooks serve, a hosted API), e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", help="the teacher's model name at the URL (required with a URL)")
    p.add_argument("--n", type=guard.positive_int, required=True, metavar="N",
                   help="items to keep: generation goes on until N are kept or --max-requests are spent")
    p.add_argument("--seed", type=int, default=0, help="item i's topic, audience, name, ... depend only on (seed, i)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (a rerun resumes into it)")
    p.add_argument("--config", metavar="FILE", help=f"settings (YAML; shipped: configs/synth/{kind}.yaml; default: built-in)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a setting, e.g. --set verify.timeout=10 (repeatable)")
    p.add_argument("--max-requests", type=guard.positive_int, metavar="R",
                   help="stop after R teacher requests, re-asks included (default: max_requests_factor x N = 2N)")
    p.add_argument("--holdout-families", metavar="FILE",
                   help="never generate these: one family name (offline) or topic id / prefix (any teacher) per line "
                        "(the ablation holds whole families out for evaluation)")
    p.add_argument("--families", metavar="FILE", help="generate only these (same format): e.g. the held-out set itself")
    p.add_argument("--cache", metavar="FILE", help="answer cache of an endpoint teacher (default: DIR/teacher.cache.sqlite)")
    p.add_argument("--mode", choices=("chat", "completions"), help="endpoint API: chat (default) or completions")
    p.add_argument("--concurrency", type=guard.positive_int, help="requests in flight (default: teacher.concurrency, 8)")
    p.add_argument("--rpm", type=guard.positive_float, help="max requests per minute")
    p.add_argument("--api-key-env", metavar="VAR", help="variable holding the API key (default OPENAI_API_KEY; unset = none)")
    if kind == "exercises":
        p.add_argument("--mine-from", nargs="+", metavar="INPUT",
                       help="offline teacher: also mine exercises (functions with passing doctests) from these code "
                            "inputs (.py trees, JSONL, a curation's output dir); offline.mined_fraction of the requests")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    guard.add_overwrite_flag(p)
    p.set_defaults(func=lambda args: synth_main(args, kind))


def configure_exercises(p) -> None:
    _configure_kind(p, "exercises")


def configure_textbooks(p) -> None:
    _configure_kind(p, "textbooks")


def read_name_list(path: str, families: dict, flag: str) -> set[str]:
    """Names from a --holdout-families / --families file: family names or topic ids/prefixes, one per line
    ('#' comments); an unknown name is an error naming the file and line."""
    from textbooks import guard

    guard.check_inputs([path], kind="file", flag=flag)
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise guard.UsageError(f"{flag} {path}: not UTF-8 text (byte {e.start})") from None
    out = set()
    for lineno, line in enumerate(lines, 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        problem = unknown_name(name, families)
        if problem:
            raise guard.UsageError(f"{path}:{lineno}: {problem}")
        out.add(name.rstrip("/"))
    return out


def unknown_name(name: str, families: dict) -> str | None:
    """Why `name` is neither a family nor a topic id/prefix of the topic tree (with the closest match), or None."""
    from textbooks.synth.diversity import load_tree

    topics = set()
    for leaf in load_tree():
        parts = leaf.id.split("/")
        topics.update("/".join(parts[:k]) for k in range(1, len(parts) + 1))
    if name in families or name.rstrip("/") in topics:
        return None
    import difflib

    close = difflib.get_close_matches(name, list(families) + sorted(topics), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else " (a family name such as 'strings.count_vowels', or a topic such as 'strings' or 'strings/transforming')"
    return f"{name!r} is neither a family nor a topic{hint}"


def synth_main(args: argparse.Namespace, kind: str) -> int:
    from dataclasses import asdict

    from textbooks import guard
    from textbooks.synth.config import load_synth_config
    from textbooks.synth.offline.families import FAMILIES

    out = Path(args.out)
    offline = args.teacher == "offline"
    if not offline and not args.teacher.startswith(("http://", "https://")):
        raise guard.UsageError(f"--teacher: 'offline' or an http(s):// base URL, got {args.teacher!r}")
    if not offline and not args.model:
        raise guard.UsageError("--model is required with a --teacher URL (the model name at that server)")
    if offline and args.model:
        raise guard.UsageError("--model is for a --teacher URL; the offline teacher has none")
    if offline:
        given = [flag for flag, value in (("--cache", args.cache), ("--mode", args.mode), ("--concurrency", args.concurrency),
                                          ("--rpm", args.rpm), ("--api-key-env", args.api_key_env)) if value is not None]
        if given:
            raise guard.UsageError(f"{', '.join(given)}: for an endpoint teacher (--teacher URL); the offline teacher "
                                   "sends no requests")
    mine_from = getattr(args, "mine_from", None)
    if mine_from and not offline:
        raise guard.UsageError("--mine-from is for --teacher offline")
    try:
        config = load_synth_config(args.config, args.overrides)
    except ValueError as e:
        raise guard.UsageError(str(e)) from None
    if args.mode:
        config.teacher.mode = args.mode
    if args.concurrency:
        config.teacher.concurrency = args.concurrency
    if args.rpm:
        config.teacher.rpm = args.rpm
    if args.api_key_env is not None:
        config.teacher.api_key_env = args.api_key_env or None
    if mine_from:
        config.offline.mine_from = list(mine_from)
    holdout = read_name_list(args.holdout_families, FAMILIES, "--holdout-families") if args.holdout_families else set()
    only = read_name_list(args.families, FAMILIES, "--families") if args.families else None
    if not offline:
        named = sorted(n for n in holdout | (only or set()) if n in FAMILIES)
        if named:
            raise guard.UsageError(f"{', '.join(named[:3])}: family names apply to the offline teacher; for an endpoint "
                                   "teacher, name topics (e.g. 'strings' or 'strings/transforming')")
    inputs = list(config.offline.mine_from) if offline and kind == "exercises" else []
    if inputs:
        guard.check_inputs(inputs, flag="--mine-from")
    command = f"synth {kind}"
    cache = Path(args.cache) if args.cache else out / "teacher.cache.sqlite"
    outputs = [guard.Output(out, kind="dir", replaces=False)]
    if not offline and args.cache:
        outputs.append(guard.Output(cache, flag="--cache", expected="an SQLite cache", replaces=False))
    max_requests = args.max_requests or max(1, int(round(config.max_requests_factor * args.n)))
    from textbooks.llm.config import redact_url

    settings = dict(command=command, teacher=redact_url(args.teacher), model=args.model, n=args.n, seed=args.seed,
                    max_requests=max_requests, config=json.loads(json.dumps(asdict(config))), holdout=sorted(holdout),
                    only=sorted(only) if only is not None else None)
    # A rerun of the same command resumes into DIR; other settings (another seed, --n, config) would replace
    # its files, so they need --overwrite like any other non-empty directory.
    checked = guard.check_outputs(outputs, inputs=inputs + ([args.holdout_families] if args.holdout_families else [])
                                  + ([args.families] if args.families else []),
                                  overwrite=args.overwrite, resumable_marker=guard.json_marker("run.json", **settings))
    if args.cache and not offline and cache.exists() and not guard.is_sqlite_file(cache):
        raise guard.UsageError(f"--cache {cache} exists and is not an SQLite cache; choose another --cache")
    if checked[0].state == "replace":
        import shutil

        shutil.rmtree(out / "report", ignore_errors=True)  # a report of the files about to be replaced
    from textbooks.data.pipeline import run_lock

    with run_lock(out):  # one run per DIR at a time (the kernel drops the lock if the run is killed)
        return _synth(args, kind, config, out, offline, inputs, holdout, only, cache, max_requests, settings)


def _synth(args, kind, config, out, offline, inputs, holdout, only, cache, max_requests, settings) -> int:
    from textbooks import guard
    from textbooks.synth.offline.families import FAMILIES
    from textbooks.synth.run import synthesize

    guard.write_marker(out, "run.json", **settings)
    if offline:
        from textbooks.synth.diversity import load_vocab
        from textbooks.synth.teacher import OfflineTeacher

        mined = _mine(config.offline) if inputs else []
        teacher = OfflineTeacher(FAMILIES, load_vocab(), mined)
        stats = synthesize(kind, teacher=teacher, config=config, out_dir=out, n=args.n, seed=args.seed,
                           max_requests=max_requests, holdout=holdout, only=only, progress=not args.no_progress)
    else:
        from textbooks.llm import LLMClient, LLMConfig
        from textbooks.synth.teacher import LLMTeacher

        t = config.teacher
        llm = LLMConfig(base_url=args.teacher, model=args.model, api_key_env=t.api_key_env, cache_path=str(cache),
                        concurrency=t.concurrency, rpm=t.rpm, tpm=t.tpm, max_retries=t.max_retries, timeout_s=t.timeout_s,
                        cost_per_1k_prompt=t.cost_per_1k_prompt, cost_per_1k_completion=t.cost_per_1k_completion,
                        progress=False)
        guard.set_resume_hint(f"answers so far are cached in {cache}: rerun the same command to send only the rest")
        from textbooks.llm import LLMFatalError

        with LLMClient(llm) as client:
            try:
                stats = synthesize(kind, teacher=LLMTeacher(client, t), config=config, out_dir=out, n=args.n,
                                   seed=args.seed, max_requests=max_requests, holdout=holdout, only=only,
                                   progress=not args.no_progress)
            except LLMFatalError as e:  # the client names its own flag; here the URL came from --teacher
                raise guard.CommandError(str(e).replace("--base-url", "--teacher") +
                                         f"; answers so far are cached in {cache}") from None
    return 0 if stats["kept"] >= args.n else 1


def _mine(section) -> list:
    from textbooks.data.sources import read_documents
    from textbooks.synth.offline.mine import mine_documents

    skipped: dict = {}
    docs = []
    for i, doc in enumerate(read_documents(section.mine_from, skipped, strict=False)):
        if i >= section.max_mined_files:
            break
        docs.append(doc)
    docs.sort(key=lambda d: str(d.id))  # the pool's order decides which request gets which function
    mined = list(mine_documents(docs))
    from textbooks.text import plural

    print(f"textbooks synth exercises: mined {plural(len(mined), 'exercise')} from {plural(len(docs), 'document')}"
          + (" (nothing readable: check --mine-from)" if not docs else ""), file=sys.stderr)
    return mined


def configure_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="DIR|FILE", help="a synth output directory (textbooks.jsonl / exercises.jsonl) or one .jsonl")
    p.add_argument("--out", metavar="DIR", help="where report.json / report.png go (default: DIR/report/)")
    p.add_argument("--featurizer", default="hashed",
                   help="nearest-neighbour distances with this featurizer ('hashed': offline; a model dir; 'none' to skip)")
    p.add_argument("--tree", default="builtin", metavar="FILE|builtin|none",
                   help="topic tree for leaf coverage: 'builtin' (default: textbooks/synth/data/topics.yaml), 'none', "
                        "or a file of leaf ids (a JSON list, or one id such as strings/transforming/x per line)")
    p.set_defaults(func=report_main)


def report_main(args: argparse.Namespace) -> int:
    from textbooks import guard
    from textbooks.synth import report

    guard.check_inputs([args.path])
    featurizer = None if args.featurizer == "none" else args.featurizer
    tree = None if args.tree == "none" else args.tree
    for kind, r in report.report_main(args.path, out=args.out, featurizer=featurizer, tree=tree).items():
        print(summary_line(kind, r))
    return 0


def summary_line(kind: str, r: dict) -> str:
    """The report in a few lines (everything else is in report.json / report.png)."""
    d = r["distinct_ngrams"]
    lines = [f"textbooks synth report: {kind}: {r['n']} items ({r['source']})",
             f"  distinct 1..4-grams: {' / '.join(str(d[k]['ratio']) for k in sorted(d))}",
             f"  near-duplicates: {r['near_duplicates']['count']} ({r['near_duplicates']['rate']:.1%})"]
    tree = r["topics"].get("tree")
    if tree:
        lines.append(f"  topic leaves covered: {tree['covered']} of {tree['leaves']} ({tree['coverage']:.1%})")
    top = r["openings"]["first_5"]["top"]
    if top:
        lines.append(f"  most frequent opening: {top[0]['phrase']!r} x{top[0]['count']} "
                     f"({r['openings']['first_5']['top_share']:.1%} of items)")
    nn = r.get("nearest_neighbour")
    if nn:
        lines.append(f"  nearest-neighbour distance ({nn['featurizer']}): mean {nn['mean']}, p10 {nn['p10']}, min {nn['min']}")
    lines.append(f"  files: {r['files']['json']}, {r['files']['png']}")
    return "\n".join(lines)
