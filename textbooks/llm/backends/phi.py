"""Our own checkpoints through the one sampling function (`textbooks.model.generate`); CPU-friendly.

Sample i of a request is drawn with the sampler's seed rule: seeded by (request seed or 0, the prompt's
token ids, i), so the same request gives the same samples whatever else is in the run, the batch size,
or which of its samples were already cached (a larger n adds samples without changing the old ones).
A prompt too long for the context keeps its last tokens, as everywhere: the warning names the request ids
and the tokens dropped, and `Result.prompt_tokens_dropped` (`llm complete`: the output's field) has the count.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from textbooks.llm.backends._local import prompt_and_stop
from textbooks.llm.config import LLMConfig, LLMFatalError
from textbooks.text import plural

log = logging.getLogger(__name__)

# OpenAI's vocabulary: "stop" covers both a stop string and the end-of-text token.
FINISH = {"eos": "stop", "stop": "stop", "length": "length"}


class PhiBackend:
    def __init__(self, config: LLMConfig, generator=None):
        """generator: an already loaded `textbooks.model.generate.Generator` (else `config.model` is loaded)."""
        self.config = config
        if generator is None:
            import torch

            from textbooks.model.generate import Generator

            dtype = getattr(torch, config.dtype) if config.dtype else None
            try:
                generator = Generator.from_pretrained(config.model, device=config.device, dtype=dtype)
            except (OSError, ValueError) as e:
                raise LLMFatalError(f"cannot load checkpoint {config.model}: {e}") from e
        self.generator = generator

    async def generate(self, works: list, sink) -> None:
        from textbooks.llm.cache import Sample
        from textbooks.model.generate import SamplingParams

        groups: dict[tuple, list] = defaultdict(list)  # one SamplingParams per sampler call
        for w in works:
            r = w.request
            groups[(r.max_tokens, float(r.temperature), float(r.top_p), tuple(prompt_and_stop(r)[1]), r.seed or 0)].append(w)
        truncated: dict = {}  # request id -> prompt tokens cut
        for (max_tokens, temperature, top_p, stop, seed), group in groups.items():
            params = SamplingParams(max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=list(stop), seed=seed)
            first = {id(w): w.missing[0] for w in group}  # the prompt's tokens are billed to this sample
            try:
                for batch in self.generator.generate_iter([prompt_and_stop(w.request)[0] for w in group], params,
                                                          batch_size=self.config.batch_size,
                                                          sample_ids=[list(w.missing) for w in group]):
                    sink.call_sent()
                    per_work: dict[int, dict] = defaultdict(dict)
                    for i, c in batch:
                        w = group[i]
                        if c.prompt_tokens_dropped:
                            truncated[w.request.id] = c.prompt_tokens_dropped
                        pt = c.prompt_tokens if c.sample == first[id(w)] else 0
                        per_work[i][c.sample] = Sample(c.text, FINISH.get(c.finish_reason, c.finish_reason), pt,
                                                       len(c.token_ids), c.prompt_tokens_dropped)
                    for i, samples in per_work.items():
                        sink.done(group[i], samples)
            except ValueError as e:  # e.g. max_tokens leaves no room for a prompt: every request of the group
                for w in group:
                    if w.missing:
                        sink.failed(w, str(e))
        if truncated:
            shown = ", ".join(f"{rid!r}: {d}" for rid, d in list(truncated.items())[:10]) + (" ..." if len(truncated) > 10 else "")
            log.warning("%s longer than the context (%d tokens) minus max_tokens and kept only their last tokens "
                        "(prompt tokens dropped, by request id: %s; Result.prompt_tokens_dropped)",
                        plural(len(truncated), "prompt") + (" was" if len(truncated) == 1 else " were"),
                        self.generator.max_seq_len, shown)
