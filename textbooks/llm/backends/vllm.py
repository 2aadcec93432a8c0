"""vLLM in-process offline batch generation (GPU; `pip install 'textbooks[gpu]'`).

vLLM schedules the whole batch itself (continuous batching, paged KV cache), so every missing sample
of a parameter group goes to one `LLM.generate` call. Our checkpoints load directly: they are HF `phi`
directories (or run `textbooks export hf` first).
"""

from __future__ import annotations

from textbooks.llm.backends._local import group_by_params, prompt_and_stop, run_local
from textbooks.llm.config import LLMConfig, LLMFatalError


class VLLMBackend:
    def __init__(self, config: LLMConfig):
        try:
            import vllm
        except ImportError as e:
            raise LLMFatalError(
                f"backend 'vllm' needs vLLM and a GPU: pip install 'textbooks[gpu]' ({e}); or run `vllm serve {config.model}` "
                "and use the 'openai' backend with --base-url http://127.0.0.1:8000/v1"
            ) from e
        self.vllm = vllm
        self.config = config
        kwargs = {"dtype": config.dtype} if config.dtype else {}
        self.llm = vllm.LLM(model=config.model, **kwargs)
        self.tokenizer = self.llm.get_tokenizer()

    async def generate(self, works: list, sink) -> None:
        # vLLM batches internally: hand it whole parameter groups rather than batch_size slices.
        biggest = max(len(g) for _, g in group_by_params(works, self.config.max_n_per_call))
        run_local(works, sink, max_n=self.config.max_n_per_call, batch_size=max(biggest, 1), call=self._call)

    def _prompt(self, request) -> str:
        if request.chat and getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True)
        return prompt_and_stop(request)[0]

    def _call(self, prompts: list[str], requests: list, key: tuple) -> list[list[tuple]]:
        max_tokens, temperature, top_p, stop, seed, n = key
        params = self.vllm.SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                                          stop=list(stop) or None, seed=seed)
        outs = self.llm.generate([self._prompt(r) for r in requests], params, use_tqdm=False)
        return [
            [(c.text, c.finish_reason if c.finish_reason in ("stop", "length") else "stop", len(o.prompt_token_ids), len(c.token_ids))
             for c in o.outputs]
            for o in outs
        ]
