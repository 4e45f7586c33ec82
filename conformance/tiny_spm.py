"""Add a SentencePiece tokenizer.model to a tiny model folder, so llama.cpp's converter can read its vocab.

    <llama-cpp-convert venv>/bin/python conformance/tiny_spm.py MODEL_DIR

convert_hf_to_gguf.py reads a BPE tokenizer.json only when it recognizes the pre-tokenizer by the hash
of how it splits a fixed text (conversion/base.py get_vocab_base_pre: "BPE pre-tokenizer was not
recognized"), which a tokenizer trained here never matches; a Llama folder with a SentencePiece
tokenizer.model is read directly (LlamaModel.set_vocab tries _set_vocab_sentencepiece first, and pads
the vocab up to config.json's vocab_size). Trained with `sentencepiece` on the text below, nothing
downloaded; ids 0-2 are <unk>, <s>, </s> as the Llama tokenizer has them, and byte fallback gives it
the <0x0A> newline piece llama.cpp looks up (without it, every chat request fails in the template).

Every token the model can emit decodes to valid UTF-8 on its own. The weights are random, so the model
emits any token at all; byte fallback's pieces <0x80>..<0xFF> are single bytes of multi-byte characters,
and a reply made of stray ones is not UTF-8: llama-server then answers 500 "The model produced output
that does not match the expected peg-native format" (its chat output parser reads UTF-8 code points and
fails on malformed ones: common/peg-parser.cpp, common/chat.cpp:3873 at b10454). So those 128 pieces are
also listed in tokenizer_config.json's added_tokens_decoder as special tokens, under their own text: the
converter makes them CONTROL tokens (conversion/base.py _create_vocab_sentencepiece: `special` ->
SentencePieceTokenTypes.CONTROL, the text unchanged), which llama.cpp never renders as output text
(llama_vocab::impl::token_to_piece returns nothing for a CONTROL token unless special tokens are asked
for, and then their ASCII name), while it still finds them by name when it falls back to bytes on input
(llama-vocab.cpp byte_to_token looks up "<0xNN>"). tokenizer.model itself stays as sentencepiece
trained it (it refuses a model with byte_fallback and fewer than 256 BYTE pieces). Only llama.cpp's
converter reads this folder's SentencePiece vocabulary; tokenizer.json (tiny_llama.py) is untouched.
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

TEXT = """Hello, how are you today? I am fine, thank you. The quick brown fox jumps over the lazy dog.
A tiny model answers questions about the weather, numbers and colors. What is two plus two? It is four.
Servers answer requests; clients send messages with a role and content. The assistant replies politely.
""" * 20

HIGH_BYTE = re.compile(r"<0x[89A-F][0-9A-F]>")


def main(model_dir: str) -> None:
    import sentencepiece as spm

    out = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(TEXT.splitlines()), model_writer=out, vocab_size=320, byte_fallback=True,
                                   model_type="bpe", unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
                                   user_defined_symbols=["<|im_start|>", "<|im_end|>"], minloglevel=2)
    model = out.getvalue()
    Path(model_dir, "tokenizer.model").write_bytes(model)
    sp = spm.SentencePieceProcessor(model_proto=model)
    high = {i: sp.IdToPiece(i) for i in range(sp.vocab_size()) if HIGH_BYTE.fullmatch(sp.IdToPiece(i))}
    assert len(high) == 128 and all(sp.IsByte(i) for i in high), high
    config_path = Path(model_dir, "tokenizer_config.json")
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.exists() else {}
    decoder = config.setdefault("added_tokens_decoder", {})
    for i, piece in high.items():
        decoder[str(i)] = {"content": piece, "special": True, "lstrip": False, "rstrip": False,
                           "normalized": False, "single_word": False}
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
