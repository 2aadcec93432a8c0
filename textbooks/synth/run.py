"""`synthesize(...)`: generate until `n` items are kept (or the request budget is spent), in rounds.

One round (`SynthConfig.batch_size` items at most, sized from the yield so far):

    specs (seeded: item i depends only on (seed, i))  ->  teacher answers (cached)  ->  parse (re-ask up to
    teacher.retries times when an answer cannot be used)  ->  sandbox verification  ->  near-dedup against
    everything kept so far  ->  decontamination against HumanEval/MBPP  ->  keep, in index order, until n

Every answer that is not kept goes to `dropped.jsonl` with its reason (parse.DROP_REASONS); items kept past
`n` in the last round are listed there as `surplus` (a later run with a larger --n keeps them, from the
cache). A rerun of the same command reproduces the same files: specs, the cache's answers and the
verdicts are deterministic, so a killed run relaunched pays only for the requests that had not finished.

Outputs (DIR): exercises.jsonl | textbooks.jsonl, dropped.jsonl, stats.json, run.json (the settings, written
first: it marks DIR as this command's, so a relaunch resumes into it), teacher.cache.sqlite (endpoint teachers).
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from textbooks.synth.config import SynthConfig
from textbooks.synth.parse import Drop, Exercise, Textbook, parse_exercise, parse_textbook
from textbooks.synth.teacher import Job

KINDS = ("exercises", "textbooks")
RETRYABLE = {"no code block", "unterminated code block", "syntax error", "function not found", "no docstring",
             "empty body", "no tests", "too short"}
MAX_KEPT_ANSWER_CHARS = 4000  # of a dropped answer, in dropped.jsonl


def _prefix(kind: str) -> str:
    return "ex" if kind == "exercises" else "tb"


def load_prompt(kind: str, version: str) -> tuple[str, str, str]:
    """(template, retry template, sha) of textbooks/synth/prompts/<exercise|textbook>_<version>.md."""
    from textbooks.text import read_prompt_file

    name = f"{'exercise' if kind == 'exercises' else 'textbook'}_{version}.md"
    template, retry, sha = read_prompt_file("textbooks.synth", name, f"teacher.prompt_version={version!r}")
    return template, retry + "\n", sha


class SpecSource:
    """Item i of the run: its spec, from textbooks.synth.diversity (seeded per item), with the offline
    teacher's choice of family (or mined function) made here, so the spec says exactly what was asked."""

    def __init__(self, kind: str, seed: int, *, offline: bool, families: dict, holdout: set[str], only: set[str] | None,
                 mined_count: int = 0, mined_fraction: float = 0.0):
        from textbooks.synth import diversity

        self.kind, self.seed, self.offline = kind, seed, offline
        self.vocab = diversity.load_vocab()
        self.leaves = diversity.load_tree()
        self.families = {name: f for name, f in families.items() if _allowed(name, f.topic, holdout, only)}
        by_topic: dict[str, list[str]] = {}
        for name, f in self.families.items():
            by_topic.setdefault(f.topic, []).append(name)
        self.by_topic = by_topic
        if offline:
            # the offline teacher writes from its families: only topics that have an allowed one (held-out
            # families never reach an exercise or a lesson)
            if not self.families:
                raise ValueError("every offline family is held out (or not in --families): nothing to generate")
            self.leaves = [leaf for leaf in self.leaves if f"{leaf.area}/{leaf.topic}" in by_topic]
        else:
            self.leaves = [leaf for leaf in self.leaves if _allowed("", leaf.id, holdout, only)]
        if not self.leaves:
            raise ValueError("no topic is left after --holdout-families / --families")
        self.mined_count, self.mined_fraction = mined_count, mined_fraction
        self._mined_used = 0
        self._cache: dict[int, dict] = {}

    def spec(self, index: int) -> dict:
        if index in self._cache:
            return self._cache[index]
        from textbooks.synth import diversity

        if self.kind == "exercises":
            spec = diversity.exercise_spec(self.seed, index, self.leaves, self.vocab)
            if self.offline:
                # the offline teacher writes its own names; a requested name and words would only mislead
                spec = {k: v for k, v in spec.items() if k not in ("function_name", "words")}
                rng = random.Random(f"{self.seed}:offline:{index}")
                if self._mined_used < self.mined_count and rng.random() < self.mined_fraction:
                    spec = {**spec, "mined": self._mined_used}
                    self._mined_used += 1
                else:
                    topic = f"{spec['area']}/{spec['topic'].split('/')[1]}"
                    names = self.by_topic[topic]
                    # labelled with the family's own topic: a family is not written for the drawn leaf
                    spec = {k: v for k, v in spec.items() if k != "subtopic"}
                    spec.update(topic=topic, family=names[rng.randrange(len(names))])
        else:
            spec = diversity.textbook_spec(self.seed, index, self.leaves, self.vocab)
        self._cache[index] = spec
        return spec


def _allowed(name: str, topic: str, holdout: set[str], only: set[str] | None) -> bool:
    """A family (name, "area/topic") or a leaf ("", leaf id) is excluded when `holdout` names it, its topic, or
    a prefix of its topic; with `only`, it must be named the same way."""
    def named(names: set[str]) -> bool:
        return (name and name in names) or any(topic == h or topic.startswith(h.rstrip("/") + "/") for h in names)

    if holdout and named(holdout):
        return False
    return only is None or named(only)


def synthesize(kind: str, *, teacher, config: SynthConfig, out_dir: Path, n: int, seed: int, max_requests: int,
               holdout: set[str] = frozenset(), only: set[str] | None = None, families: dict | None = None,
               progress: bool = True, log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> dict:
    """Run the rounds and write the outputs; returns the stats (also DIR/stats.json)."""
    from textbooks.synth.verify import Verifier

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if families is None:
        from textbooks.synth.offline.families import FAMILIES as families
    offline = getattr(teacher, "kind", "") == "offline"
    mined = getattr(teacher, "mined", []) if offline else []
    specs = SpecSource(kind, seed, offline=offline, families=families, holdout=set(holdout), only=only,
                       mined_count=len(mined), mined_fraction=config.offline.mined_fraction)
    if offline:
        teacher = teacher.restricted(specs.families)  # lessons too: a held-out family is never taught
    template, retry_template, prompt_sha = load_prompt(kind, config.teacher.prompt_version)
    prompt_version = f"{config.teacher.prompt_version}@{prompt_sha}"
    t_start = time.monotonic()
    seconds = Counter()
    items_at = Counter()
    kept: list[dict] = []
    dropped: list[dict] = []
    reasons: Counter = Counter()
    variants: Counter = Counter()
    renamed = 0
    surplus = 0
    requests = 0
    generated = 0
    index = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, desc=f"synth {kind} ({teacher.name})", unit="kept", dynamic_ncols=True, file=sys.stderr)
    detector = None
    verifier = Verifier(config.verify)
    try:
        while len(kept) < n and requests < max_requests:
            need = n - len(kept)
            rate = (len(kept) + 1) / (generated + 1) if generated else 1.0  # smoothed yield so far
            size = min(config.batch_size, max_requests - requests, max(1, math.ceil(need / max(rate, 0.05) * 1.1)))
            jobs = []
            for i in range(index, index + size):
                spec = specs.spec(i)
                # the offline teacher reads the spec, not a prompt
                messages = [] if offline else [{"role": "user", "content": _render(template, spec, specs.vocab)}]
                jobs.append(Job(f"{_prefix(kind)}-{seed}-{i:07d}", spec, messages, seed=_job_seed(seed, i)))
            index += size
            # --- teacher + parse, with re-asks ---
            t = time.monotonic()
            parsed: dict[str, Any] = {}
            answers: dict[str, str | None] = {}
            answer_meta: dict[str, dict] = {}
            pending = jobs
            attempts = 0
            while pending:
                budget = max_requests - requests
                if attempts > 0:
                    pending = pending[:budget]
                    if not pending:
                        break
                got = teacher.answer(pending)
                requests += len(pending)
                again = []
                for job, ans in zip(pending, got):
                    answers[job.id] = ans.text
                    answer_meta[job.id] = ans.meta
                    if ans.text is None:
                        parsed[job.id] = Drop("no answer", (ans.error or "")[:500])
                        continue
                    res = _parse(kind, ans.text, job.spec, config, ans.meta.pop("entry_point", None))
                    parsed[job.id] = res
                    if isinstance(res, Drop) and res.reason in RETRYABLE and attempts < config.teacher.retries \
                            and not offline:
                        problem = res.reason + (f" ({res.detail})" if res.detail else "")
                        job.messages = job.messages + [
                            {"role": "assistant", "content": ans.text},
                            {"role": "user", "content": _render(retry_template, {**job.spec, "problem": problem}, specs.vocab)}]
                        again.append(job)
                pending = again
                attempts += 1
            generated += sum(1 for j in jobs if answers.get(j.id) is not None)
            seconds["teacher+parse"] += time.monotonic() - t
            items_at["teacher+parse"] += len(jobs)
            # --- verify ---
            t = time.monotonic()
            ok = [(j, parsed[j.id]) for j in jobs if not isinstance(parsed[j.id], Drop)]
            passing: list[tuple[Job, Any, dict]] = []
            if kind == "exercises":
                verdicts = verifier.exercises([(j.id, ex) for j, ex in ok])
                for (j, ex), v in zip(ok, verdicts):
                    if v.passed:
                        passing.append((j, ex, {"verdict_mode": v.mode}))
                    else:
                        parsed[j.id] = Drop(v.reason or "tests fail", v.detail[:500])
            else:
                results = verifier.textbooks([b for _, b in ok], config.textbooks.max_code_blocks)
                for (j, book), per_section in zip(ok, results):
                    out = _apply_block_policy(book, per_section, config.textbooks.on_failed_block)
                    if isinstance(out, Drop):
                        parsed[j.id] = out
                    else:
                        passing.append((j, out[0], out[1]))
            seconds["verify"] += time.monotonic() - t
            items_at["verify"] += len(ok)
            # --- records, dedup, decontamination ---
            new = [_record(kind, j, x, {**answer_meta.get(j.id, {}), **extra}, teacher, prompt_version)
                   for j, x, extra in passing]
            t = time.monotonic()
            from textbooks.data.dedup import find_duplicates

            texts = [_train_text(r) for r in kept + new]
            ids = [r["id"] for r in kept + new]
            dups = {d.index: d for d in find_duplicates(texts, config.dedup, ids) if d.index >= len(kept)}
            seconds["dedup"] += time.monotonic() - t
            items_at["dedup"] += len(new)
            survivors = []
            for k, r in enumerate(new):
                d = dups.get(len(kept) + k)
                if d is not None:
                    parsed[r["id"]] = Drop("duplicate", f"duplicate_of {ids[d.of]} (jaccard {d.jaccard})")
                    r["metadata"]["duplicate_of"] = ids[d.of]
                    dropped.append(_dropped(r, "duplicate", parsed[r["id"]].detail, stage="dedup"))
                else:
                    survivors.append(r)
            t = time.monotonic()
            items_at["decontaminate"] += len(survivors)
            if survivors:
                if detector is None:
                    from textbooks.data.decontam.detect import Decontaminator

                    detector = Decontaminator(config.decontaminate)
                matches = detector.scan([_train_text(r) for r in survivors])
                clean = []
                for r, ms in zip(survivors, matches):
                    if ms and detector.decide(ms):
                        report = [m.report() for m in ms]
                        dropped.append(_dropped(r, "contaminated", json.dumps(report)[:500], stage="decontaminate",
                                                matches=report))
                        parsed[r["id"]] = Drop("contaminated")
                    else:
                        clean.append(r)
                survivors = clean
            seconds["decontaminate"] += time.monotonic() - t
            for r in survivors:
                if len(kept) < n:
                    kept.append(r)
                    renamed += bool(r["metadata"].get("renamed"))
                else:
                    surplus += 1
                    dropped.append(_dropped(r, "surplus", f"kept past --n {n}", stage="quota"))
            for j in jobs:
                res = parsed[j.id]
                if isinstance(res, Drop):
                    reasons[res.reason] += 1
                    if res.reason not in ("duplicate", "contaminated"):
                        dropped.append({"id": j.id, "reason": res.reason, "detail": res.detail, "stage":
                                        "verify" if res.reason in _VERIFY_REASONS else "parse",
                                        "metadata": _spec_metadata(j.spec, teacher, prompt_version),
                                        "answer": (answers.get(j.id) or "")[:MAX_KEPT_ANSWER_CHARS]})
                elif isinstance(res, Exercise):
                    variants.update(res.variants)
            if bar is not None:
                bar.n = len(kept)
                usage = teacher.usage
                post = {"generated": generated, "dropped": sum(reasons.values()), "requests": requests}
                if usage.get("completion_tokens"):
                    post["tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                if usage.get("cost") is not None:
                    post["cost"] = round(usage["cost"], 4)
                bar.set_postfix(post, refresh=False)
                bar.refresh()
    finally:
        if bar is not None:
            bar.close()
        verifier_counts = dict(verifier.counts)
        verifier.close()
    total = time.monotonic() - t_start
    stopped = (f"kept {len(kept)} of {n}" if len(kept) >= n
               else f"max requests spent ({requests} of {max_requests}); kept {len(kept)} of {n}")
    usage = teacher.usage
    stats = {
        "command": f"synth {kind}", "teacher": teacher.name, "model": teacher.model, "seed": seed,
        "requested": n, "max_requests": max_requests, "requests": requests, "generated": generated,
        "kept": len(kept), "dropped": dict(sorted(reasons.items())), "dropped_total": sum(reasons.values()),
        "surplus": surplus, "renamed": renamed if kind == "exercises" else None,
        "variants": dict(sorted(variants.items())), "verification": verifier_counts,
        "tokens": {"prompt": usage.get("prompt_tokens", 0), "completion": usage.get("completion_tokens", 0)},
        "usage": usage or None, "cost": usage.get("cost"), "stopped": stopped,
        "seconds": {k: round(v, 3) for k, v in seconds.items()} | {"total": round(total, 3)},
        "items_per_second": {k: round(items_at[k] / seconds[k], 2) for k in seconds if seconds[k] > 0},
        "holdout": sorted(holdout), "only": sorted(only) if only is not None else None,
        "families_available": len(specs.families) if offline and kind == "exercises" else None,
        "mined_available": len(mined) if offline and kind == "exercises" else None,
        "decontaminate": config.decontaminate.describe(),
        "prompt_sha": prompt_sha,
    }
    _write_outputs(out_dir, kind, kept, dropped, stats)
    log(f"textbooks synth {kind}: {stopped} -> {out_dir / (kind + '.jsonl')}; dropped {stats['dropped_total']} "
        f"({', '.join(f'{k} {v}' for k, v in stats['dropped'].items()) or 'none'}); {requests} requests"
        + (f", {stats['tokens']['prompt']} prompt + {stats['tokens']['completion']} completion tokens"
           if stats["tokens"]["prompt"] or stats["tokens"]["completion"] else "")
        + (f", cost {stats['cost']:.4f}" if stats.get("cost") is not None else "") + f", {total:.1f} s")
    return stats


_VERIFY_REASONS = {"tests fail", "timeout", "out of memory", "exited early", "trivial tests", "code blocks fail",
                   "unsafe code", "not isolatable", "flaky"}  # the rest of parse.DROP_REASONS are found parsing


def _job_seed(seed: int, index: int) -> int:
    import hashlib

    return int.from_bytes(hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=4).digest(), "little")


def _render(template: str, spec: dict, vocab) -> str:
    from textbooks.synth import diversity

    text = template
    if "{problem}" in text:
        text = text.replace("{problem}", str(spec.get("problem", "")))
    return diversity.render_prompt(spec, text, vocab)


def _parse(kind: str, text: str, spec: dict, config: SynthConfig, entry_point: str | None = None):
    try:
        if kind == "exercises":
            return parse_exercise(text, entry_point or spec.get("function_name"), min_asserts=config.verify.min_asserts)
        return parse_textbook(text, min_words=config.textbooks.min_words, min_code_blocks=config.textbooks.min_code_blocks)
    except (RecursionError, MemoryError, ValueError, SyntaxError) as e:
        # One pathological answer (thousands of nested operators reach ast.unparse's recursion limit) costs that
        # answer: it is cached, so letting it raise would crash every relaunch at the same point.
        return Drop("syntax error", f"the parser gave up: {type(e).__name__}: {str(e)[:200]}")


def _apply_block_policy(book: Textbook, verdicts, policy: str):
    """(text, metadata) of a textbook after the keep/drop policy, or a Drop."""
    blocks = sum(len(s.blocks) for s in book.sections)
    passed = sum(1 for sec in verdicts for v in sec if v.passed)
    failed_sections = [i for i, sec in enumerate(verdicts) if any(not v.passed for v in sec)]
    first_fail = next((v for sec in verdicts for v in sec if not v.passed), None)
    if policy == "drop_item" and failed_sections:
        return Drop("code blocks fail", f"{blocks - passed} of {blocks} blocks fail; first: {first_fail.detail[:300]}")
    keep = [i for i in range(len(book.sections)) if policy == "keep" or i not in failed_sections]
    if not any(book.sections[i].blocks for i in keep):
        return Drop("code blocks fail", f"{blocks - passed} of {blocks} blocks fail; first: "
                    f"{first_fail.detail[:300] if first_fail else 'no code block left'}")
    text = "\n".join(book.sections[i].text.rstrip("\n") + "\n" for i in keep)
    kept_blocks = sum(len(book.sections[i].blocks) for i in keep)
    kept_passed = sum(1 for i in keep for v in verdicts[i] if v.passed)
    return text, {"code_blocks": kept_blocks, "code_blocks_passed": kept_passed, "sections": len(keep),
                  "sections_dropped": len(book.sections) - len(keep), "answer_code_blocks": blocks,
                  "answer_code_blocks_passed": passed}


def _spec_metadata(spec: dict, teacher, prompt_version: str) -> dict:
    meta = {k: v for k, v in spec.items() if k not in ("kind", "area_title", "topic_title")}
    meta.update(teacher=teacher.name, prompt_version=prompt_version)
    if "family" in spec:
        meta["source"] = "family"
    elif "mined" in spec:
        meta["source"] = "mined"
    else:
        meta["source"] = "lesson" if getattr(teacher, "kind", "") == "offline" else "teacher"
    return meta


def _record(kind: str, job: Job, item, extra: dict, teacher, prompt_version: str) -> dict:
    meta = _spec_metadata(job.spec, teacher, prompt_version) | extra
    if "mined" in job.spec:
        m = teacher.mined[job.spec["mined"]]
        meta["mined_from"] = {"id": m.origin, "line": m.line}
    if kind == "exercises":
        ex: Exercise = item
        meta.update(requested_name=job.spec.get("function_name"), renamed=ex.renamed, tests_style=ex.tests_style)
        return {"id": job.id, "prompt": ex.prompt, "completion": ex.completion, "entry_point": ex.entry_point,
                "tests": ex.tests, "metadata": meta}
    return {"id": job.id, "text": item, "metadata": meta}


def _train_text(record: dict) -> str:
    return record["text"] if "text" in record else record["prompt"] + record["completion"]


def _dropped(record: dict, reason: str, detail: str, *, stage: str, **more) -> dict:
    out = {"id": record["id"], "reason": reason, "detail": detail, "stage": stage, "metadata": record["metadata"], **more}
    if "text" in record:
        out["text"] = record["text"][:MAX_KEPT_ANSWER_CHARS]
    else:
        out.update(prompt=record["prompt"], completion=record["completion"], entry_point=record["entry_point"],
                   tests=record["tests"])
    return out


def _write_outputs(out_dir: Path, kind: str, kept: list[dict], dropped: list[dict], stats: dict) -> None:
    from textbooks.guard import atomic_write_text
    from textbooks.jsonl import write_jsonl

    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / f"{kind}.jsonl", kept)
    dropped.sort(key=lambda r: r["id"])
    write_jsonl(out_dir / "dropped.jsonl", dropped)
    atomic_write_text(out_dir / "stats.json", json.dumps(stats, indent=2, default=str) + "\n")
