"""`textbooks serve MODEL`: an OpenAI-compatible HTTP server over a checkpoint (argparse only here)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path

from textbooks import guard

DESCRIPTION = """Serve a checkpoint (ours, or an HF Phi directory) over an OpenAI-compatible API:
GET /v1/models, GET /v1/models/{id}, POST /v1/completions, POST /v1/chat/completions (plain
"### User:" / "### Assistant:" chat template, see textbooks/llm/chat.py); `stream: true` (server-sent
events), `logprobs` for small k. Concurrent requests with the same sampling parameters are decoded
together in one batch of the KV-cache sampler; a seeded request gives the same output alone or among
concurrent ones. A request field that is not implemented is refused with a 400 naming it (see
textbooks/llm/serve.py for the list); nothing is ignored silently. Defaults as OpenAI's: max_tokens 16
for completions, the rest of the context for chat; temperature 1 (0..2; below 1e-5 = greedy).
A client that hangs up (or stops reading a stream) has its decoding cancelled at the next token.

  textbooks serve runs/final --port 8000
  textbooks llm complete --base-url http://127.0.0.1:8000/v1 --model final --input p.jsonl --out r.jsonl
  python -c "from openai import OpenAI; c = OpenAI(base_url='http://127.0.0.1:8000/v1', api_key='-'); \\
      print(c.completions.create(model='final', prompt='def add(a, b):', max_tokens=32, temperature=0).choices[0].text)"

For serving at scale: `textbooks export hf` and `vllm serve DIR`."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("model", type=Path, metavar="MODEL", help="checkpoint directory (config.json + model.safetensors + tokenizer files)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=guard.port, default=8000, help="0..65535; default 8000 (0 = any free port)")
    parser.add_argument("--device", type=guard.device, default=None,
                        help="cpu, cuda, cuda:1, mps (default: cuda if available, else cpu)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], help="default: the checkpoint's dtype")
    parser.add_argument("--max-batch", type=guard.positive_int, default=8, help="sequences decoded together (default 8)")
    parser.add_argument("--max-wait-ms", type=guard.float_in(0.0, 60_000.0), default=5.0,
                        help="how long to wait for more requests to batch (default 5)")
    parser.add_argument("--model-name", help="the name clients pass as `model` (default: the directory name)")
    parser.add_argument("--api-key-env", metavar="VAR", help="require `Authorization: Bearer $VAR` (default: no key)")
    lim = parser.add_argument_group("limits (a request beyond them gets a 4xx naming the field)")
    lim.add_argument("--max-n", type=guard.positive_int, default=128, help="choices per prompt, `n` (default 128, OpenAI's cap)")
    lim.add_argument("--max-prompts", type=guard.positive_int, default=64, help="prompts in one completions request (default 64)")
    lim.add_argument("--max-total-tokens", type=guard.positive_int, default=2**20, metavar="N",
                     help="tokens one request may ask to generate, prompts x n x max_tokens (default 1048576)")
    lim.add_argument("--max-body-mb", type=guard.positive_float, default=8.0, help="request body size; 413 above it (default 8)")
    lim.add_argument("--request-timeout", type=guard.positive_float, default=60.0, metavar="S",
                     help="seconds a connection may take to send each part of a request or to read a streamed answer, "
                     "and may stay idle between requests; slower clients get a 408 or are cut off (default 60)")
    lim.add_argument("--max-connections", type=guard.positive_int, default=64,
                     help="connections handled at once (a thread each); more get a 503 with Retry-After (default 64)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from textbooks.llm.serve import Limits

    limits = Limits(max_n=args.max_n, max_prompts=args.max_prompts, max_total_tokens=args.max_total_tokens,
                    max_body_bytes=max(1, int(args.max_body_mb * 2**20)),
                    request_timeout_s=args.request_timeout, max_connections=args.max_connections)
    if not (args.model / "config.json").exists():
        print(f"textbooks serve: {args.model} is not a checkpoint directory (no config.json); pass the directory "
              "that holds config.json, model.safetensors and the tokenizer files", file=sys.stderr)
        return 2
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            print(f"textbooks serve: --api-key-env {args.api_key_env}: the variable is not set", file=sys.stderr)
            return 2
    import torch

    from textbooks.llm.serve import Server
    from textbooks.model.generate import Generator
    from textbooks.model.phi import Phi
    from textbooks.tokenizer import load_tokenizer

    guard.check_device(args.device)
    try:
        tokenizer = load_tokenizer(args.model)
        guard.check_model_tokenizer(args.model, tokenizer)  # a foreign tokenizer would serve garbage
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = Phi.from_pretrained(args.model, device=device, dtype=getattr(torch, args.dtype) if args.dtype else None)
        generator = Generator(model, tokenizer, device)
    except (OSError, ValueError) as e:
        print(f"textbooks serve: cannot load {args.model}: {e}", file=sys.stderr)
        return 2
    name = args.model_name or args.model.resolve().name
    try:
        server = Server(generator, name, host=args.host, port=args.port, max_batch=args.max_batch,
                        max_wait_ms=args.max_wait_ms, api_key=api_key, limits=limits)
    except OSError as e:
        print(f"textbooks serve: cannot listen on {args.host}:{args.port}: {e} (another server there? try --port)", file=sys.stderr)
        return 2
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback and not api_key:
        print(f"textbooks serve: warning: listening on {args.host} without a key: anyone who can reach this port can use "
              "the model (use --api-key-env)", file=sys.stderr)
    print(f"textbooks serve: {args.model} as model {name!r} on {server.url} ({generator.device}); Ctrl-C to stop", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
