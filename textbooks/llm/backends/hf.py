"""A local Hugging Face model directory through transformers (`AutoModelForCausalLM.generate`).

For models other than ours (a teacher or judge that fits on the machine). Chat requests use the
tokenizer's own chat template when it has one, else the plain template of `textbooks/llm/chat.py`.
Needs the `hf` extra (`pip install textbooks[hf]`).
"""

from __future__ import annotations

from textbooks.llm.backends._local import run_local
from textbooks.llm.chat import chat_stop
from textbooks.llm.config import LLMConfig, LLMFatalError
from textbooks.text import cut_at_stop


class HFBackend:
    def __init__(self, config: LLMConfig):
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:
            raise LLMFatalError(f"backend 'hf' needs transformers: pip install 'textbooks[hf]' ({e})") from e
        self.config = config
        self.torch = torch
        self.device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(config.model)
            import transformers

            dtype = getattr(torch, config.dtype) if config.dtype else "auto"
            # transformers 5 renamed `torch_dtype` to `dtype`.
            dtype_arg = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
            self.model = AutoModelForCausalLM.from_pretrained(config.model, **{dtype_arg: dtype}).to(self.device).eval()
        except (OSError, ValueError) as e:
            raise LLMFatalError(f"cannot load the transformers model {config.model}: {e}") from e
        self.tokenizer.padding_side = "left"  # decoder-only: pad on the left so every row ends at its last prompt token
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    async def generate(self, works: list, sink) -> None:
        run_local(works, sink, max_n=self.config.max_n_per_call, batch_size=self.config.batch_size, call=self._call)

    def _prompt(self, request, default: str) -> str:
        if request.chat and getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True)
        return default

    def _call(self, prompts: list[str], requests: list, key: tuple) -> list[list[tuple]]:
        torch = self.torch
        max_tokens, temperature, top_p, stop, seed, n = key
        prompts = [self._prompt(r, p) for r, p in zip(requests, prompts)]
        stop = list(stop)
        if any(r.chat and getattr(self.tokenizer, "chat_template", None) for r in requests):
            stop = [s for s in stop if s not in chat_stop(None)] or stop  # the model's own template ends turns with EOS
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True).to(self.device)
        limit = getattr(self.model.config, "max_position_embeddings", None)
        if limit and enc["input_ids"].shape[1] + max_tokens > limit:
            raise ValueError(f"prompt ({enc['input_ids'].shape[1]} tokens) + max_tokens {max_tokens} exceeds the model's context {limit}")
        torch.manual_seed(seed)  # transformers samples from the global generator
        copies = n if temperature == 0 else 1  # greedy refuses num_return_sequences > 1: decode once, copy
        n_gen = 1 if temperature == 0 else n
        kwargs = dict(max_new_tokens=max_tokens, num_return_sequences=n_gen, pad_token_id=self.tokenizer.pad_token_id)
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature, top_p=top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if stop:
            kwargs.update(stop_strings=stop, tokenizer=self.tokenizer)
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)  # (B * n_gen, T + new)
        new = out[:, enc["input_ids"].shape[1] :]  # (B * n_gen, new)
        ends = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}  # a finished row is padded after its EOS
        results = []
        for b in range(len(prompts)):
            prompt_tokens = int(enc["attention_mask"][b].sum())
            samples = []
            for row in new[b * n_gen : (b + 1) * n_gen].tolist() * copies:
                end = next((i for i, t in enumerate(row) if t in ends), None)
                row = row[:end] if end is not None else row
                text, stopped = self.tokenizer.decode(row, skip_special_tokens=True), False
                if stop:
                    text, stopped = cut_at_stop(text, stop)
                samples.append((text, "stop" if stopped or end is not None else "length", prompt_tokens, len(row)))
            results.append(samples)
        return results
