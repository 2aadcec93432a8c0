"""`textbooks llm complete`: a JSONL file of prompts in, a JSONL file of completions out.

    textbooks llm complete --base-url http://127.0.0.1:8000/v1 --model M --input prompts.jsonl --out results.jsonl

Input lines: {"id": ..., "prompt": "..."} (or {"id": ..., "messages": [...]} with --chat). A line may
override the command's sampling options with its own "max_tokens", "temperature", "top_p", "n", "stop",
"seed"; other fields are ignored. Output lines: {"id", "text", "usage", "finish_reason"} (+ "texts" and
"finish_reasons" when n > 1, and "prompt_tokens_dropped" when the backend reports a prompt cut to fit its
context: `--backend phi` and `textbooks serve`; a warning counts them), one per finished input id.
`--extra-body` goes to HTTP servers only; local backends refuse it (they could not honour its fields).

The cache (default: RESULTS.jsonl.cache.sqlite next to the output) is the source of truth: every
finished sample is committed there before it counts, and the output file is rewritten from it
atomically at the end. Killed midway? Run the same command again: finished requests are not sent
again, the rest are, and the output has each id once. Failed ids are listed on stderr and in
RESULTS.jsonl.errors.jsonl; exit code 0 = all done, 1 = some failed, 2 = bad arguments or input.
Ctrl-C (or SIGTERM) stops within a decode step or a network read, writes the finished ids to the output
and exits 130 (143); the same command resumes. An existing output is only rewritten when it is one of
ours (JSON lines with "id" and "text") or with --overwrite, and never when it is the input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from textbooks import guard
from textbooks.jsonl import iter_jsonl, write_jsonl
from textbooks.text import STOP_HELP, plural, stop_arg

OVERRIDES = {"max_tokens": int, "temperature": (int, float), "top_p": (int, float), "n": int, "seed": int}


class InputError(ValueError):
    """A bad input line; the message starts with FILE:LINE."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    where = parser.add_argument_group("where requests go")
    where.add_argument("--base-url", help="OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1 (required for --backend openai)")
    where.add_argument("--model", required=True, help="model name the server knows (for local backends: the model directory)")
    where.add_argument("--backend", default="openai", choices=["openai", "vllm", "hf", "phi"],
                       help="openai = any OpenAI-compatible HTTP server (default); vllm = in-process vLLM (GPU); "
                       "hf = a transformers model directory; phi = one of our checkpoints")
    where.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR",
                       help="name of the environment variable holding the API key (default: OPENAI_API_KEY; unset = no key)")
    files = parser.add_argument_group("files")
    files.add_argument("--input", required=True, type=Path, help="JSONL of {id, prompt} (or {id, messages} with --chat)")
    files.add_argument("--out", required=True, type=Path, help="JSONL of {id, text, usage}; rewritten atomically at the end "
                       "(a rerun resumes into it)")
    files.add_argument("--overwrite", action="store_true", help="replace --out even if it is not a results file of this command")
    files.add_argument("--cache", type=Path, help="SQLite cache (default: OUT.cache.sqlite); share it between runs and processes")
    files.add_argument("--no-cache", action="store_true", help="do not cache (a rerun sends everything again)")
    sampling = parser.add_argument_group("sampling (a line's own fields win)")
    sampling.add_argument("--chat", action="store_true", help="use /v1/chat/completions; lines carry messages (or a prompt = one user message)")
    sampling.add_argument("--max-tokens", type=guard.positive_int, default=256, help="default 256")
    sampling.add_argument("--temperature", type=float, default=0.0, help="default 0 (greedy)")
    sampling.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling: keep the smallest set of tokens with this total probability (default 1.0 = all)")
    sampling.add_argument("--n", type=guard.positive_int, default=1, help="samples per prompt (cached one by one: raising n sends only the new ones)")
    sampling.add_argument("--stop", action="append", default=None, metavar="TEXT", type=stop_arg,
                          help="stop sequence (repeatable); " + STOP_HELP)
    sampling.add_argument("--seed", type=int, help="sample i of a prompt is drawn with a seed derived from (seed, prompt, i) "
                          "(phi backend and HTTP servers; see the README)")
    sampling.add_argument("--extra-body", type=_json_object, metavar="JSON", help='extra JSON fields for every call, e.g. \'{"top_k": 20}\'')
    pacing = parser.add_argument_group("pacing and retries")
    pacing.add_argument("--concurrency", type=guard.positive_int, default=8, help="calls in flight (default 8)")
    pacing.add_argument("--rpm", type=guard.positive_float, help="max requests per minute (paced evenly)")
    pacing.add_argument("--tpm", type=guard.positive_float, help="max tokens per minute (estimated before, corrected after each call)")
    pacing.add_argument("--timeout", type=guard.positive_float, default=600.0,
                        help="seconds to wait for one answer before retrying it (default 600, like the openai client)")
    pacing.add_argument("--max-retries", type=guard.nonnegative_int, default=6, help="retries per call on 429/5xx/timeouts/dropped connections (default 6)")
    other = parser.add_argument_group("other")
    other.add_argument("--cost-per-1k-prompt", type=float, help="price per 1K prompt tokens, for the usage summary")
    other.add_argument("--cost-per-1k-completion", type=float, help="price per 1K completion tokens")
    other.add_argument("--batch-size", type=guard.positive_int, default=8, help="local backends: prompts per batch (default 8)")
    other.add_argument("--device", type=guard.device, help="local backends: cpu, cuda, cuda:1 ... (default: cuda if available)")
    other.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=main)


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not valid JSON ({e.msg} at column {e.colno}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object like '{{\"top_k\": 20}}', got {text!r}")
    return value


def read_requests(path: Path, *, chat: bool, defaults: dict) -> list:
    """Parse and validate every line first, so a typo on line 90,000 fails before anything is paid for."""
    from textbooks.llm.config import Request

    if not path.exists():
        raise InputError(f"{path}: no such file")
    requests, first_line = [], {}
    for lineno, row in iter_jsonl(path, error=InputError, objects=True,
                                  hint='; each line must be one JSON object like {"id": 1, "prompt": "..."}'):
        where = f"{path}:{lineno}"
        if "id" not in row or not isinstance(row["id"], (str, int)) or isinstance(row["id"], bool):
            raise InputError(f"{where}: needs an \"id\" (a string or an integer)")
        key = json.dumps(row["id"])
        if key in first_line:
            raise InputError(f"{where}: duplicate id {row['id']!r} (first on line {first_line[key]}); ids must be unique")
        first_line[key] = lineno
        if "messages" in row and not chat:
            raise InputError(f"{where}: has \"messages\": pass --chat to send chat requests")
        if chat and "messages" not in row and "prompt" not in row:
            raise InputError(f"{where}: needs \"messages\" (a list of {{\"role\", \"content\"}}) or \"prompt\"")
        if not chat and not isinstance(row.get("prompt"), str):
            raise InputError(f"{where}: needs a \"prompt\" string" + (" (or pass --chat for messages)" if "prompt" not in row else ""))
        params = dict(defaults)
        for name, kind in OVERRIDES.items():
            if name in row and row[name] is not None:
                if not isinstance(row[name], kind) or isinstance(row[name], bool):
                    raise InputError(f"{where}: \"{name}\" must be a number, got {row[name]!r}")
                params[name] = row[name]
        if "stop" in row and row["stop"] is not None:
            stop = [row["stop"]] if isinstance(row["stop"], str) else row["stop"]
            if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
                raise InputError(f"{where}: \"stop\" must be a string or a list of non-empty strings")
            params["stop"] = stop
        try:
            requests.append(Request(id=row["id"], prompt=row.get("prompt"), messages=row.get("messages"), chat=chat, **params))
        except ValueError as e:
            raise InputError(f"{where}: {e}") from None
    if not requests:
        raise InputError(f"{path}: no requests (the file is empty)")
    return requests


def is_results_file(path: Path) -> bool:
    """True when `path` looks like this command's output (its first line is an object with "id" and "text"):
    a rerun may rewrite it; any other file is someone else's."""
    try:
        for _, row in iter_jsonl(path):
            return isinstance(row, dict) and "id" in row and "text" in row
    except (OSError, ValueError):
        return False
    return True  # blank lines only


def write_results(path: Path, results: list) -> int:
    """Rewrite `path` with the finished results (atomically: readers never see half a file)."""
    rows = []
    for r in results:
        if r.error:
            continue
        row = {"id": r.id, "text": r.texts[0], "usage": r.usage, "finish_reason": r.finish_reasons[0] if r.finish_reasons else None}
        if len(r.texts) > 1:
            row["texts"], row["finish_reasons"] = r.texts, r.finish_reasons
        if r.prompt_tokens_dropped is not None:
            row["prompt_tokens_dropped"] = r.prompt_tokens_dropped
        rows.append(row)
    return write_jsonl(path, rows)


def failure_summary(failed: list, limit: int = 10) -> str:
    by_reason: dict[str, list] = {}
    for r in failed:
        by_reason.setdefault(r.error, []).append(r.id)
    lines = []
    for reason, ids in list(by_reason.items())[:limit]:
        shown = ", ".join(map(repr, ids[:limit])) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
        lines.append(f"  {len(ids)} failed: {reason}\n    ids: {shown}")
    if len(by_reason) > limit:
        lines.append(f"  ... and {len(by_reason) - limit} other reasons")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    import logging

    from textbooks.llm import LLMClient, LLMConfig, LLMError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("textbooks.llm.client").setLevel(logging.ERROR)  # this command prints its own summary
    if args.backend == "openai" and not args.base_url:
        print("textbooks llm complete: --base-url is required for --backend openai (e.g. http://127.0.0.1:8000/v1)", file=sys.stderr)
        return 2
    defaults = dict(max_tokens=args.max_tokens, temperature=args.temperature, top_p=args.top_p, n=args.n, stop=args.stop, seed=args.seed)
    cache = None if args.no_cache else (args.cache or args.out.with_name(args.out.name + ".cache.sqlite"))
    guard.check_inputs([args.input], kind="file", flag="--input")
    errors_path = args.out.with_name(args.out.name + ".errors.jsonl")
    # Before the cache is opened or anything is sent: --out must not be the input nor someone else's file.
    guard.check_outputs([guard.Output(args.out)], inputs=[args.input], overwrite=args.overwrite,
                        resumable_marker=is_results_file)
    guard.check_outputs([guard.Output(errors_path, flag="errors file")], inputs=[args.input], overwrite=True)
    if cache is not None:
        guard.check_outputs([guard.Output(cache, flag="--cache", expected="an SQLite cache")], inputs=[args.input, args.out],
                            overwrite=False, resumable_marker=guard.is_sqlite_file)
    if args.backend == "phi" and (Path(args.model) / "config.json").is_file():  # a foreign tokenizer samples garbage
        from textbooks.tokenizer import load_tokenizer

        guard.check_model_tokenizer(args.model, load_tokenizer(args.model))
    try:
        config = LLMConfig(
            backend=args.backend, base_url=args.base_url, model=args.model, api_key_env=args.api_key_env or None,
            cache_path=str(cache) if cache else None, concurrency=args.concurrency, rpm=args.rpm, tpm=args.tpm,
            max_retries=args.max_retries, timeout_s=args.timeout, cost_per_1k_prompt=args.cost_per_1k_prompt,
            cost_per_1k_completion=args.cost_per_1k_completion, extra_body=args.extra_body, progress=not args.no_progress,
            batch_size=args.batch_size, device=args.device,
        )
        requests = read_requests(args.input, chat=args.chat, defaults=defaults)
    except (ValueError, InputError) as e:
        print(f"textbooks llm complete: {e}", file=sys.stderr)
        return 2
    fatal = None
    try:
        client = LLMClient(config)  # opens the cache
    except LLMError as e:
        print(f"textbooks llm complete: error: {e}", file=sys.stderr)
        return 2
    with client:  # closes the cache on any exit, exceptions included
        try:
            results = client.run(requests)
        except KeyboardInterrupt:  # Ctrl-C / SIGTERM: keep what finished, say how to go on
            done = write_results(args.out, client.cached_results(requests))
            hint = f"{done}/{len(requests)} ids done -> {args.out}"
            if cache:
                hint += "; rerun the same command to resume (finished ids come from the cache, nothing is sent twice)"
            guard.set_resume_hint(hint)
            raise
        except LLMError as e:
            fatal = str(e)
            results = client.cached_results(requests)  # keep what is done: the output lists finished ids
            for r in results:
                if r.error:
                    r.error = "not done: the run stopped on the error above"
    written = write_results(args.out, results)
    cut = [r for r in results if not r.error and r.prompt_tokens_dropped]
    if cut:
        shown = ", ".join(f"{r.id!r}: {r.prompt_tokens_dropped}" for r in cut[:10]) + (" ..." if len(cut) > 10 else "")
        print(f"textbooks llm complete: warning: {plural(len(cut), 'prompt')} {'was' if len(cut) == 1 else 'were'} longer "
              f"than the model's context minus --max-tokens and kept only their last tokens (tokens dropped, by id: "
              f"{shown}; prompt_tokens_dropped in {args.out})", file=sys.stderr)
    failed = [r for r in results if r.error]
    usage = client.last_usage
    usage.failures = len(failed)
    print(f"textbooks llm complete: {written}/{len(results)} ids done -> {args.out}; {usage.summary()}"
          + (f"; cache {cache}" if cache else ""), file=sys.stderr)
    if fatal:
        print(f"textbooks llm complete: error: {fatal}", file=sys.stderr)
    if failed:
        write_jsonl(errors_path, ({"id": r.id, "error": r.error} for r in failed))
        print(f"textbooks llm complete: {plural(len(failed), 'id')} not done (all listed in {errors_path}):\n{failure_summary(failed)}\n"
              "Rerun the same command to retry them; finished ids are not sent again.", file=sys.stderr)
        return 1
    errors_path.unlink(missing_ok=True)
    return 0
