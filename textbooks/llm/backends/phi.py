"""Our own checkpoints through the batched KV-cache sampler (`textbooks.model.generate`); CPU-friendly."""

from __future__ import annotations

from textbooks.llm.backends._local import run_local
from textbooks.llm.config import LLMConfig, LLMFatalError

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
        run_local(works, sink, max_n=self.config.max_n_per_call, batch_size=self.config.batch_size, call=self._call)

    def _call(self, prompts: list[str], requests: list, key: tuple) -> list[list[tuple]]:
        from textbooks.model.generate import SamplingParams

        max_tokens, temperature, top_p, stop, seed, n = key
        params = SamplingParams(max_new_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=list(stop), seed=seed, n=n)
        outs = self.generator.generate(prompts, params, batch_size=self.config.batch_size)
        return [[(c.text, FINISH.get(c.finish_reason, c.finish_reason), c.prompt_tokens, len(c.token_ids)) for c in cs] for cs in outs]
