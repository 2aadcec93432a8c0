"""Token ids for packing: the tokenizer's own ids, with a literal special token in a text read as text.

Ordinary text. The packer puts `<|endoftext|>` (eos_id) after every document, and that id must mean
"a document ends here" and nothing else. A document that merely *contains* the string `<|endoftext|>`
(this file does; so do tokenizer code, docs and scraped web pages) must be encoded like any other
text, as nanoGPT's `encode_ordinary` does with tiktoken. `tokenizers` by default cuts added special
tokens out of the input before pre-tokenization, and `add_special_tokens=False` does not change that
(it only controls the post-processor's BOS/EOS template). Its `encode_special_tokens = True` switch
(tokenizers >= 0.15) does: special added tokens are then not matched in the input, so
`"<|endoftext|>"` goes through the ByteLevel pre-tokenizer and BPE as `<`, `|`, `end`, ... while the
non-special added tokens (codegen's runs of spaces and tabs) are still matched as usual. The
`OrdinaryEncoder` below is a private copy of the tokenizer with that switch on (and the eos token
marked special, should a tokenizer.json list it as a plain added token), so the caller's tokenizer
keeps `transformers`' behaviour (textbooks/tokenizer/load.py) and the fingerprint is unchanged.

Why the tokenizer itself, not a faster re-implementation (issue 10, item 6). Until then the packer
used a Python "fast encoder" (the GPT-2 regex with the `regex` module plus a pre-token -> ids cache,
BPE of unseen pre-tokens by the tokenizer's model), checked against the tokenizer on 1 document in 32.
That sample check can miss a divergence on the documents it skips (e.g. a Unicode-version difference
in `\\p{L}` between Python's `regex` and the tokenizer's Oniguruma); checking every document costs a
full tokenizer encoding per document, so the fast path cannot keep both its speed and a proof.
Measured by benchmarks/bench_encode.py (results/encode.json: the standard library, 1,758 documents,
31.5 MB, 10.2M tokens, a 4096-token tokenizer from `textbooks tokenizer train`; CPU seconds, best of
3, on a shared 2-core machine): `tokenizers` on one thread 21.9 s (1.44 MB per CPU-second); the fast
encoder alone 12.4 s (2.55 MB/CPU-s, 1.77x); the fast encoder checked on every document 39.0 s
(0.81 MB/CPU-s, 0.56x of the tokenizer alone); `tokenizers` with its thread pool used 26.6 CPU-s, no
faster in wall time there. Every method gave the same ids on every document. So the
packer uses the tokenizer's own batch encoder: the same ids by construction, at the cost of the 1.8x.
"""

from __future__ import annotations

import array
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textbooks.tokenizer import CodeTokenizer


def pack_ids(ids, typecode: str) -> bytes:
    """Token ids as packed bytes of array typecode `typecode`, little-endian (the on-disk format everywhere)."""
    a = array.array(typecode, ids)
    if sys.byteorder != "little":
        a.byteswap()
    return a.tobytes()


class OrdinaryEncoder:
    """`tokenizer`'s ids for any text, with special tokens in the text encoded as ordinary text.

    `encode_batch` runs on the Rust side; it uses several threads unless TOKENIZERS_PARALLELISM=false
    (the packer sets that in its workers: one process per core is the parallelism there).
    """

    def __init__(self, tokenizer: CodeTokenizer):
        from tokenizers import Tokenizer

        spec = json.loads(tokenizer.hf.to_str())
        for added in spec.get("added_tokens") or []:
            if added.get("content") == tokenizer.eos_token:
                added["special"] = True  # encode_special_tokens only skips tokens marked special
        self.hf = Tokenizer.from_str(json.dumps(spec))
        self.hf.no_truncation()
        self.hf.no_padding()
        self.hf.encode_special_tokens = True
        self.eos_id = tokenizer.eos_id
        if self.eos_id in self.encode(tokenizer.eos_token):  # e.g. an eos that only lives in a BPE vocab
            raise ValueError(
                f"tokenizer {tokenizer.source or ''}: the text {tokenizer.eos_token!r} still encodes to the "
                f"separator id {self.eos_id} with special tokens off; packed documents would be cut apart by "
                f"their own text. Use a tokenizer whose eos is an added special token (ours, codegen's, phi-1's)"
            )

    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        # encode_batch_fast (tokenizers >= 0.20) skips the per-token character offsets; same ids.
        batch = getattr(self.hf, "encode_batch_fast", None) or self.hf.encode_batch
        return [e.ids for e in batch(texts, add_special_tokens=False)]
