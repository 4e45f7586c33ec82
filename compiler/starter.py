"""The commented starter spec `deployc init` writes: every section, its defaults, and what each field means."""

from __future__ import annotations

STARTER = """\
# yaml-language-server: $schema={schema}
# deploy.yaml: one reviewed file, compiled by deployc into serving artifacts for each target below.
# Validate: deployc validate {spec_hint}    Build: deployc build {spec_hint} --target all
# Every field is described in the schema named above (`deployc schema` prints it).
apiVersion: deployc/v1
name: {name}                      # DNS label: lowercase letters, digits and '-'

model:
  source: {model}                 # hub id "org/name", or a local path (./, ../, / or ~)
  # revision: main                # branch, tag or commit (hub ids only)
  # served_name: my-model         # what clients send as "model"; default: last part of source, lower-cased
  # trust_remote_code: false
  # chat_template: ./chat_template.jinja
  # adapters:                     # LoRA adapters served beside the base model
  #   - {{name: sql, source: ./adapters/sql}}

precision:
  dtype: auto                     # auto | bfloat16 | float16 | float32
  quantization: none              # none | fp8 | awq | gptq | int8 | int4 | bitsandbytes | gguf
  kv_cache_dtype: auto            # auto | fp8

parallelism:
  tensor: 1                       # GPUs that shard each layer (must divide the attention heads)
  pipeline: 1                     # pipeline stages
  data: 1                         # independent copies of the whole model

limits:
  max_model_len: 8192             # prompt + completion; remove to use the model's own context
  # max_output_tokens: 2048
  # max_concurrency: 64           # default: what `deployc plan` says fits
  # max_batch_tokens: 8192

server:
  host: 0.0.0.0
  port: 8000
  # api_key_env: MY_API_KEY       # the NAME of the variable holding the key; never the key itself

hardware:
  gpu: {gpu}                      # `deployc gpus` lists the catalog
  memory_utilization: 0.90

{targets}"""


def starter_text(name: str, model: str, gpu: str, target: str | None, registered: list[str], schema: str,
                 spec: str = "deploy.yaml") -> str:
    label = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")[:63] or "my-model"
    if target is not None:
        targets = f"targets:                          # the engines to build for; each takes version, image, args, env\n" \
                  f"  {target}: {{}}\n"
    else:
        targets = "targets: {}                       # uncomment the engines to build for (`deployc targets`)\n" \
                  + "".join(f"#  {t}: {{}}\n" for t in registered)
    return STARTER.format(name=label, model=model, gpu=gpu, targets=targets, schema=schema, spec_hint=spec)
