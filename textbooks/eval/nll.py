"""`textbooks eval nll`: the mean per-token negative log-likelihood of the benchmarks' canonical solutions
given their prompts, a continuous measure that moves long before pass@1 does (issue 14, Figure 2.1 arms).

    textbooks eval nll --model runs/arm/final --benchmark humaneval --out out/humaneval.nll.json
    textbooks eval nll --model runs/arm/final --benchmark exercises --problems heldout/exercises.jsonl \\
        --out out/exercises.nll.json

What is scored, per benchmark (`canonical_pairs`):
- humaneval, exercises: the prompt the model is given in `eval generate` (`humaneval@1`: the task's prompt)
  followed by the reference body (HumanEval's canonical solution; the exercise record's completion).
- mbpp: the `docstring@1` prompt (`tasks.format_prompt`: the rebuilt def line and a docstring with the task
  text and first assert) followed by the tested function's body cut from the reference program: its lines
  after the def line(s) up to the function's last line (`mbpp_body`). The prompt's docstring is indented by
  4 spaces, so a body indented otherwise (279 of the 500 test tasks: 1, 2 or 8 spaces, tabs) is re-indented
  to 4 spaces per block level (`_reindent`: continuation lines move with their statement, comments take the
  next statement's indentation, multi-line strings are left alone), and the cut is kept only if prompt +
  body parses into a function whose statements have exactly the reference's syntax tree; the count is
  `reindented`. Tasks whose body cannot be cut cleanly are skipped and counted by reason: the reference does
  not parse, the tested name is not a top-level function (the prompt is then a bare docstring), the body
  starts on the def line, or prompt + body is not the reference function (none of the test split's 500).

Token boundary: prompt + completion is tokenized once, as the model sees it, and the scored tokens are those
whose character offset starts at or after the completion's first character; a token that straddles the
boundary (the prompt ends mid-token) is context, not scored. No end-of-text token is prepended: the
prompt is what `eval generate` feeds the model. A sequence longer than the model's max_seq_len keeps its last
max_seq_len tokens when the scored tokens fit (at least one context token before them; counted as
`prompts_truncated`), else the task is skipped ("longer than the context").

Numbers (nats): `mean_nll` = total NLL / total scored tokens (token-weighted), `mean_task_nll` = the mean
over tasks of each task's mean (task-weighted), `per_task[id] = {"nll", "tokens"}`. The model runs in eval
mode under `torch.inference_mode` (no dropout), sequences batched longest first with right padding (causal
attention: padding after a sequence does not change its logits), log-probabilities in float32. The result
records the model, the tokenizer's fingerprint and `measure` (MEASURE), so a result file says what made it.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import math
import sys
import tokenize
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

MEASURE = "canonical_nll@1"
NLL_BENCHMARKS = ("humaneval", "mbpp", "exercises")
# Rows of the (rows, vocab) logits made at once: bounds memory at phi-1's vocab (4096 x 51200 floats = 800 MB)
LOGIT_ROWS = 4096
INDENT = "    "  # the docstring@1 prompt's indentation


@dataclass(frozen=True)
class Pair:
    """One scored text: the model is given `prompt` and scored on `completion`."""

    task_id: str
    prompt: str
    completion: str
    reindented: bool = False


# ------------------------------------------------------------------------------------------------------
# What is scored
# ------------------------------------------------------------------------------------------------------


def _parse(source: str) -> ast.Module:
    with warnings.catch_warnings():  # MBPP's regex strings ('\d') warn; they are not our business here
        warnings.simplefilter("ignore")
        return ast.parse(source)


def _reindent(body: str) -> str:
    """`body` (a function's lines after its def line, indented as the reference wrote them) with every logical
    line indented 4 spaces per block level, the level as Python's tokenizer counts it (so tabs and odd widths
    follow Python's own rule). A continuation line moves with its statement, a comment line takes the
    indentation of the statement after it (the last one's at the end); lines inside a multi-line string are
    left alone (their text is the string's value)."""
    lines = body.split("\n")
    new: dict[int, str] = {}  # 0-based row -> its new text
    inside: set[int] = set()  # rows that start inside a token (a multi-line string)
    comments: list[int] = []  # comment-only rows waiting for the statement after them
    depth, delta, indent, at_start = 0, 0, "", True

    def shift(row: int) -> None:
        if row not in new and row not in inside and lines[row].strip():
            lead = len(lines[row]) - len(lines[row].lstrip(" \t"))
            new[row] = " " * max(0, lead + delta) + lines[row][lead:]

    def place_comments() -> None:
        for c in comments:
            new[c] = indent + lines[c].lstrip(" \t")
        comments.clear()

    for tok in tokenize.generate_tokens(io.StringIO(body).readline):
        row = tok.start[0] - 1
        if tok.type == tokenize.INDENT:
            depth += 1
        elif tok.type == tokenize.DEDENT:
            depth -= 1
        elif tok.type == tokenize.NEWLINE:
            at_start = True
        elif tok.type == tokenize.COMMENT and at_start:
            comments.append(row)
        elif tok.type not in (tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER):
            if at_start:  # a statement's first token: its indentation decides the shift of what goes with it
                indent = INDENT * depth
                new[row] = indent + lines[row][tok.start[1]:]
                delta, at_start = len(indent) - tok.start[1], False
                place_comments()
            else:
                shift(row)  # a continuation line (a no-op on the statement's own row)
        inside.update(range(tok.start[0], tok.end[0]))  # 0-based rows after a token's first, to its last
    place_comments()  # comments after the last statement
    return "\n".join(new.get(i, line if line.strip() or i in inside else "") for i, line in enumerate(lines))


def _function(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    return next((n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name),
                None)


def _header_end(lines: list[str], fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The 1-based line of the colon that ends the def line(s) (a signature may span lines)."""
    text = "\n".join(lines[fn.lineno - 1 :])
    depth = 0
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.OP:
            depth += tok.string in "([{"
            depth -= tok.string in ")]}"
            if tok.string == ":" and depth == 0:
                return fn.lineno + tok.start[0] - 1
    raise SyntaxError("no colon ends the def line")


def mbpp_body(task, prompt: str) -> tuple[str | None, str]:
    """(the tested function's body as it continues the docstring@1 `prompt`, "" or "reindented"), or
    (None, why it cannot be cut cleanly). The body is the reference's text after the def line(s) up to the
    function's last line; see the module docstring."""
    reference = task.reference.replace("\r\n", "\n")
    try:
        tree = _parse(reference)
    except SyntaxError:
        return None, "reference does not parse"
    fn = _function(tree, task.entry_point)
    if fn is None:
        return None, "tested name is not a top-level function"
    lines = reference.split("\n")
    header = _header_end(lines, fn)
    if fn.body[0].lineno == header:
        return None, "body on the def line"
    body = "\n".join(lines[header : fn.end_lineno]) + "\n"
    try:
        indented = _reindent(body)
    except (SyntaxError, tokenize.TokenError):  # IndentationError is a SyntaxError
        return None, "prompt + body is not the reference function"
    body, note = indented, ("reindented" if indented != body else "")
    # The body must continue the prompt into exactly the reference function: same statements, same strings.
    try:
        rebuilt = _function(_parse(prompt + body), task.entry_point)
    except SyntaxError:
        rebuilt = None
    if rebuilt is None or [ast.dump(n) for n in rebuilt.body[1:]] != [ast.dump(n) for n in fn.body]:
        return None, "prompt + body is not the reference function"
    return body, note


def canonical_pairs(benchmark: str, tasks: Sequence) -> tuple[list[Pair], Counter]:
    """(the prompt/completion pairs to score, the skipped tasks counted by reason)."""
    from textbooks.eval.tasks import format_prompt

    pairs: list[Pair] = []
    skipped: Counter = Counter()
    for task in tasks:
        if not task.reference.strip():
            skipped["no reference solution"] += 1
            continue
        if benchmark == "mbpp":
            prompt = format_prompt(task, "docstring")
            body, note = mbpp_body(task, prompt)
            if body is None:
                skipped[note] += 1
                continue
            pairs.append(Pair(task.task_id, prompt, body, note == "reindented"))
        else:
            pairs.append(Pair(task.task_id, format_prompt(task, "humaneval"), task.reference))
    return pairs, skipped


def completion_tokens(tokenizer, prompt: str, completion: str) -> tuple[list[int], int]:
    """(ids of prompt + completion tokenized once, index of the first scored token): the first token whose
    character offset starts at or after the completion's first character (len(ids) when there is none).

    A tokenizer whose offsets are trimmed (a ByteLevel post-processor with trim_offsets: " x" reported as
    starting at "x") could put a token that begins inside the prompt after the boundary; the decoded scored
    text must therefore be a suffix of the completion, and the boundary moves right until it is."""
    text = prompt + completion
    enc = tokenizer.hf.encode(text, add_special_tokens=False)
    ids = list(enc.ids)
    boundary = len(prompt)
    first = next((i for i, (start, _) in enumerate(enc.offsets) if start >= boundary), len(ids))
    while first < len(ids):
        scored = tokenizer.decode(ids[first:])
        if len(scored) <= len(completion) and completion.endswith(scored):
            break
        first += 1
    return ids, first


# ------------------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------------------


def _score_batch(model, rows: list[tuple[list[int], int]], pad_id: int, device) -> list[tuple[float, int]]:
    """(sum of NLL in nats, scored tokens) per row; row = (ids, index of the first scored token >= 1)."""
    import torch
    import torch.nn.functional as F

    width = max(len(ids) for ids, _ in rows)
    x = torch.full((len(rows), width), pad_id, dtype=torch.long)
    row_of, pos = [], []
    for b, (ids, first) in enumerate(rows):
        x[b, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        row_of += [b] * (len(ids) - first)
        pos += range(first - 1, len(ids) - 1)  # the logits at position p predict token p + 1
    x = x.to(device)
    h = model.model(x)  # (B, T, d): the backbone; the lm_head runs only where a scored token is predicted
    row_t = torch.tensor(row_of, dtype=torch.long, device=device)
    pos_t = torch.tensor(pos, dtype=torch.long, device=device)
    hs, targets = h[row_t, pos_t], x[row_t, pos_t + 1]
    nll = torch.empty(len(pos), dtype=torch.float32, device=device)
    for c in range(0, len(pos), LOGIT_ROWS):
        logits = model.lm_head(hs[c : c + LOGIT_ROWS]).float()
        nll[c : c + LOGIT_ROWS] = F.cross_entropy(logits, targets[c : c + LOGIT_ROWS], reduction="none")
    sums = torch.zeros(len(rows), dtype=torch.float64, device=device).index_add_(0, row_t, nll.double())
    return [(float(s), len(ids) - first) for s, (ids, first) in zip(sums.tolist(), rows)]


def canonical_nll(model_dir: str | Path, benchmark: str, *, split: str = "test", limit: int | None = None,
                  problems: str | Path | None = None, batch_size: int = 8, device: str = "cpu",
                  progress: bool | None = None) -> dict[str, Any]:
    """The mean per-token NLL (nats) of the benchmark's canonical solutions given their prompts under the
    model in `model_dir` (one of our checkpoints or an exported HF directory, with its tokenizer beside it).

    benchmark: humaneval, mbpp or exercises (with `problems`, the exercises file). limit: the first N tasks.
    progress: a progress bar on stderr (None: when stderr is a terminal). Returns {"benchmark", "split",
    "tasks", "skipped": {reason: n}, "tokens", "mean_nll", "mean_task_nll", "per_task": {id: {"nll",
    "tokens"}}, "model", "tokenizer_fingerprint", ...}; the means are None when no task could be scored.
    See the module docstring for what is scored."""
    import torch

    from textbooks import guard
    from textbooks.eval.tasks import load_tasks, problems_identity, problems_problem
    from textbooks.model import Phi
    from textbooks.tokenizer import load_tokenizer

    if benchmark not in NLL_BENCHMARKS:
        raise ValueError(f"canonical NLL is measured on {', '.join(NLL_BENCHMARKS)}, not {benchmark!r}")
    problem = problems_problem(benchmark, problems)
    if problem:
        raise ValueError(problem)
    if batch_size < 1 or (limit is not None and limit < 1):
        raise ValueError(f"batch_size and limit must be >= 1 (got {batch_size}, {limit})")
    tasks = load_tasks(benchmark, split, problems=problems)  # data errors before the model is loaded
    if limit is not None:
        tasks = tasks[:limit]
    model_dir = Path(model_dir)
    tokenizer = load_tokenizer(model_dir)
    guard.check_model_tokenizer(model_dir, tokenizer)  # a foreign tokenizer would score noise
    model = Phi.from_pretrained(model_dir, device=device).eval()
    max_len = model.config.max_seq_len

    pairs, skipped = canonical_pairs(benchmark, tasks)
    rows: list[tuple[Pair, list[int], int]] = []
    truncated = 0
    for pair in pairs:
        ids, first = completion_tokens(tokenizer, pair.prompt, pair.completion)
        n_scored = len(ids) - first
        if n_scored == 0:
            skipped["no completion tokens"] += 1
        elif first == 0:  # nothing to predict the first token from
            skipped["empty prompt"] += 1
        elif len(ids) > max_len:
            if n_scored > max_len - 1:
                skipped["longer than the context"] += 1
                continue
            cut = len(ids) - max_len
            rows.append((pair, ids[cut:], first - cut))
            truncated += 1
        else:
            rows.append((pair, ids, first))

    order = sorted(range(len(rows)), key=lambda i: (-len(rows[i][1]), i))  # longest first: least padding
    scores: dict[int, tuple[float, int]] = {}
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    with torch.inference_mode(), tqdm(total=len(rows), desc=f"nll {benchmark}", unit="task", disable=not show,
                                      file=sys.stderr, dynamic_ncols=True) as bar:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            for i, score in zip(batch, _score_batch(model, [(rows[i][1], rows[i][2]) for i in batch],
                                                    tokenizer.eos_id, device)):
                scores[i] = score
            bar.update(len(batch))

    per_task = {}
    for i, (pair, _, _) in enumerate(rows):  # in the benchmark's order
        total, n = scores[i]
        per_task[pair.task_id] = {"nll": total / n, "tokens": n}
    tokens = sum(t["tokens"] for t in per_task.values())
    total_nll = sum(scores[i][0] for i in range(len(rows)))
    result: dict[str, Any] = {
        "measure": MEASURE,
        "benchmark": benchmark,
        "split": split,
        "tasks": len(per_task),
        "skipped": dict(sorted(skipped.items())),
        "tokens": tokens,
        "mean_nll": total_nll / tokens if tokens else None,
        "mean_task_nll": math.fsum(t["nll"] for t in per_task.values()) / len(per_task) if per_task else None,
        "prompt_format": "docstring@1" if benchmark == "mbpp" else "humaneval@1",
        "prompts_truncated": truncated,
        "max_seq_len": max_len,
        "model": str(model_dir.resolve()),
        "tokenizer_fingerprint": tokenizer.fingerprint,
        "device": torch.device(device).type,
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "per_task": per_task,
    }
    if benchmark == "mbpp":
        result["reindented"] = sum(1 for pair, _, _ in rows if pair.reindented)
    if problems is not None:
        result["problems"] = problems_identity(problems)
    if limit is not None:
        result["limit"] = limit
    return result


# ------------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------------


def configure(parser: argparse.ArgumentParser) -> None:
    from textbooks import guard

    parser.description = (
        "The mean per-token negative log-likelihood (nats) of the canonical solutions given their prompts "
        "(HumanEval: prompt + canonical body; MBPP: the docstring@1 prompt + the reference function's body; "
        "exercises: prompt + the record's completion). Writes OUT (JSON: means, per-task values, skipped tasks "
        "by reason, model, tokenizer fingerprint). An existing OUT is replaced only when it is this command's "
        "result for the same benchmark, split, model and problems file (a rerun), or with --overwrite. See "
        "textbooks/eval/nll.py for the token boundary and truncation.")
    parser.add_argument("--model", required=True, metavar="DIR", help="our checkpoint or an exported HF directory "
                        "(with the tokenizer files beside the weights)")
    parser.add_argument("--benchmark", required=True, choices=NLL_BENCHMARKS, help="which canonical solutions")
    parser.add_argument("--problems", metavar="FILE", help="the exercises JSONL of --benchmark exercises; required there")
    parser.add_argument("--split", default="test", help="MBPP split: prompt (ids 1-10), test (11-510, the "
                        "default), validation (511-600), train (601-974) or all; humaneval and exercises have only "
                        "test (= all)")
    parser.add_argument("--limit", type=guard.positive_int, help="only the first N tasks (smoke runs)")
    parser.add_argument("--batch-size", type=guard.positive_int, default=8, help="sequences per forward pass "
                        "(default %(default)s)")
    parser.add_argument("--device", type=guard.device, default="cpu", help="cpu (default), cuda, cuda:N, mps")
    parser.add_argument("--out", required=True, metavar="FILE.json", help="the result (JSON)")
    guard.add_overwrite_flag(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (default: one on a terminal)")
    parser.set_defaults(func=_handler)


def same_measurement(benchmark: str, split: str, model: str | Path, problems: str | Path | None):
    """A `resumable_marker` for --out: true when the file there is this command's result for the same
    benchmark, split, model (resolved path, as the result records it) and problems file (by sha256, as the
    eval verbs compare it: a moved copy is the same file). Replacing such a file is a rerun of the same
    measurement; any other file, an NLL of another benchmark or model included, is someone's result and
    needs --overwrite."""
    from textbooks.eval.tasks import problems_identity

    expected = {"measure": MEASURE, "benchmark": benchmark, "split": split, "model": str(Path(model).resolve())}
    sha256 = (problems_identity(problems) or {}).get("sha256")

    def marker(path: Path) -> bool:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(data, dict) or any(data.get(k) != v for k, v in expected.items()):
            return False
        recorded = data.get("problems")
        return (recorded.get("sha256") if isinstance(recorded, dict) else None) == sha256

    return marker


def _handler(args: argparse.Namespace) -> int:
    from textbooks import guard
    from textbooks.eval.tasks import problems_problem

    problem = problems_problem(args.benchmark, args.problems)
    if problem:
        print(f"textbooks eval nll: error: {problem}", file=sys.stderr)
        return 2
    guard.check_inputs([args.model], kind="dir", flag="--model")
    if args.problems:
        guard.check_inputs([args.problems], kind="file", flag="--problems")
    # A rerun of the same measurement replaces its own earlier result; any other file needs --overwrite.
    guard.check_outputs([guard.Output(args.out)], inputs=[p for p in (args.model, args.problems) if p],
                        overwrite=args.overwrite,
                        resumable_marker=same_measurement(args.benchmark, args.split, args.model, args.problems))
    guard.check_device(args.device)
    guard.set_resume_hint("nothing was written; rerun the same command")
    try:
        result = canonical_nll(args.model, args.benchmark, split=args.split, limit=args.limit, problems=args.problems,
                               batch_size=args.batch_size, device=args.device,
                               progress=False if args.no_progress else None)
    except (ValueError, FileNotFoundError) as e:
        print(f"textbooks eval nll: error: {e}", file=sys.stderr)
        return 2
    skipped = ", ".join(f"{reason}: {n}" for reason, n in result["skipped"].items()) or "none"
    if not result["tasks"]:
        print(f"textbooks eval nll: error: no {args.benchmark} task could be scored (skipped: {skipped}); nothing "
              "was written", file=sys.stderr)
        return 1
    guard.atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"{args.benchmark}: mean NLL {result['mean_nll']:.4f} nats/token over {result['tasks']} tasks "
          f"({result['tokens']} tokens; task-weighted {result['mean_task_nll']:.4f}); skipped: {skipped}"
          + (f"; {result['prompts_truncated']} prompts kept their last tokens" if result["prompts_truncated"] else ""))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
