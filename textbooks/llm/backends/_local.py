"""What the local backends (phi, hf, vllm) share: turning requests into prompts and grouping them.

Local backends batch many requests into one call of the model, so they group work items whose
sampling parameters are the same (one `SamplingParams` per call). Chat requests become prompts with
the model's own chat template when it has one (hf, vllm), else ours (`textbooks/llm/chat.py`).
"""

from __future__ import annotations

from collections import defaultdict

from textbooks.llm.chat import chat_stop, render_chat


def prompt_and_stop(request) -> tuple[str, list[str]]:
    if request.chat:
        return render_chat(request.messages), chat_stop(request.stop)
    return request.prompt, list(request.stop or [])


def group_by_params(works: list, max_n: int) -> list[tuple[tuple, list]]:
    """[(key, works)] where key = (max_tokens, temperature, top_p, stop, seed, n) is the same for the group.

    n = the number of missing samples of a work item (capped at max_n); the seed of a call is the
    request's seed (0 if None) + the first missing sample index, so samples added later (a larger n)
    are drawn with a different seed than the ones already cached.
    """
    groups: dict[tuple, list] = defaultdict(list)
    for w in works:
        r = w.request
        _, stop = prompt_and_stop(r)
        n = min(len(w.missing), max_n)
        seed = (r.seed or 0) + w.missing[0]
        groups[(r.max_tokens, float(r.temperature), float(r.top_p), tuple(stop), seed, n)].append(w)
    return list(groups.items())


def split_usage(prompt_tokens: int, completion_tokens: list[int]) -> list[tuple[int, int]]:
    """Charge the prompt once (to the first sample of a call): that is what a server bills."""
    return [(prompt_tokens if j == 0 else 0, ct) for j, ct in enumerate(completion_tokens)]


def run_local(works: list, sink, *, max_n: int, batch_size: int, call) -> None:
    """Drive a local model until every work item has all its samples or has failed.

    call(prompts, requests, key) -> one list of (text, finish_reason, prompt_tokens, completion_tokens)
    per prompt, with key = (max_tokens, temperature, top_p, stop, seed, n). A ValueError from `call`
    (e.g. a prompt longer than the context) is retried one prompt at a time, so only the request at
    fault fails.
    """
    from textbooks.llm.cache import Sample

    def done(w, outs) -> None:
        usage = split_usage(outs[0][2], [o[3] for o in outs]) if outs else []
        # these backends refuse a prompt that does not fit (ValueError), so they never cut one: 0 dropped
        sink.done(w, {i: Sample(o[0], o[1], pt, ct, 0) for i, o, (pt, ct) in zip(list(w.missing), outs, usage)})

    while pending := [w for w in works if w.missing and w.failed is None]:
        for key, group in group_by_params(pending, max_n):
            for start in range(0, len(group), batch_size):
                chunk = group[start : start + batch_size]
                sink.call_sent()
                try:
                    outs = call([prompt_and_stop(w.request)[0] for w in chunk], [w.request for w in chunk], key)
                except ValueError as e:
                    if len(chunk) == 1:
                        sink.failed(chunk[0], str(e))
                        continue
                    for w in chunk:
                        try:
                            done(w, call([prompt_and_stop(w.request)[0]], [w.request], key)[0])
                        except ValueError as e1:
                            sink.failed(w, str(e1))
                    continue
                for w, o in zip(chunk, outs):
                    if not o:
                        sink.failed(w, "the model returned no samples")
                        continue
                    done(w, o)
