// The axolotl config keys an exported recipe may write, each checked against axolotl's own
// definition: its config reference (https://docs.axolotl.ai/docs/config-reference.html) is generated
// by docs/scripts/generate_config_docs.py from the pydantic schema in src/axolotl/utils/schemas/,
// read here at github.com/axolotl-ai-cloud/axolotl commit 067b021c8b87a9e5e380b9173c704cf7340e30f5
// (v0.18.0, July 2026). The file and field of each key are noted; a key that is not in these lists is
// not one axolotl defines, and the recipe tests fail on it.

/** Top-level keys of axolotl.yaml. */
export const AXOLOTL_KEYS: Record<string, string> = {
  // schemas/model.py, ModelInputConfig / ModelOutputConfig
  base_model: 'schemas/model.py: base_model: str (hub repo or local path)',
  output_dir: 'schemas/model.py: output_dir: str = "./model-out"',
  // schemas/deprecated.py, RemappedParameters (also set in examples/mimo/mimo-7b-qlora.yaml; loaders/model.py passes it as revision)
  revision_of_model: 'schemas/deprecated.py: revision_of_model (alias model_revision)',
  // schemas/peft.py, LoraConfig
  adapter: 'schemas/peft.py: adapter: str | None ("lora")',
  lora_model_dir: 'schemas/peft.py: lora_model_dir: str | None (loaded with PeftModel.from_pretrained(..., is_trainable=True), loaders/adapter.py)',
  lora_r: 'schemas/peft.py: lora_r: int | None',
  lora_alpha: 'schemas/peft.py: lora_alpha: int | None',
  lora_dropout: 'schemas/peft.py: lora_dropout: float | None = 0.0',
  lora_target_modules: 'schemas/peft.py: lora_target_modules: str | list[str] | None',
  peft_layers_to_transform: 'schemas/peft.py: peft_layers_to_transform: list[int] | None',
  peft_use_rslora: 'schemas/peft.py: peft_use_rslora: bool | None',
  peft_init_lora_weights: 'schemas/peft.py: peft_init_lora_weights: bool | str | None (peft init_lora_weights, e.g. "gaussian")',
  // schemas/config.py, AxolotlInputConfig
  datasets: 'schemas/config.py: datasets: list[SFTDataset | ...]',
  test_datasets: 'schemas/config.py: test_datasets: list[...] ("use either test_datasets, or val_set_size, but not both"; validation.py allows val_set_size 0)',
  val_set_size: 'schemas/config.py: val_set_size: float | None = 0.0',
  sequence_len: 'schemas/config.py: sequence_len: int = 512',
  sample_packing: 'schemas/config.py: sample_packing: bool | None (docs/multipack.qmd)',
  attn_implementation: 'schemas/config.py: attn_implementation: str | None (docs/attention.qmd: flash_attention_2 replaces the deprecated flash_attention: true)',
  bf16: 'schemas/config.py: bf16: Literal["auto"] | bool | None = "auto"',
  fp16: 'schemas/config.py: fp16: bool | None',
  seed: 'schemas/config.py: seed: int | None',
  max_steps: 'schemas/config.py: max_steps: int | None',
  warmup_steps: 'schemas/config.py: warmup_steps: int | None (unset: 3% of the steps, core/builders/base.py)',
  eval_steps: 'schemas/config.py: eval_steps: int | float | None',
  save_steps: 'schemas/config.py: save_steps: int | float | None',
  early_stopping_patience: 'schemas/config.py: early_stopping_patience: int | None (needs eval_steps and save_steps, validation.py check_early_stopping)',
  gradient_checkpointing: 'schemas/config.py: gradient_checkpointing: Literal["offload", "offload_disk"] | bool | None',
  // schemas/training.py, HyperparametersConfig
  micro_batch_size: 'schemas/training.py: micro_batch_size: int | None = 1 (per GPU)',
  gradient_accumulation_steps: 'schemas/training.py: gradient_accumulation_steps: int | None = 1',
  num_epochs: 'schemas/training.py: num_epochs: float = 1.0',
  learning_rate: 'schemas/training.py: learning_rate: str | float',
  lr_scheduler: 'schemas/training.py: lr_scheduler: str | None = "cosine" (passed to transformers as lr_scheduler_type, core/builders/base.py)',
  optimizer: 'schemas/training.py: optimizer: str | None = "adamw_torch_fused" (transformers optim names, e.g. adamw_torch)',
  adam_beta1: 'schemas/training.py: adam_beta1: float | None',
  adam_beta2: 'schemas/training.py: adam_beta2: float | None',
  adam_epsilon: 'schemas/training.py: adam_epsilon: float | None',
  weight_decay: 'schemas/training.py: weight_decay: float | None = 0.0',
  max_grad_norm: 'schemas/training.py: max_grad_norm: float | None (transformers clips only when > 0)',
  train_on_inputs: 'schemas/training.py: train_on_inputs: bool | None = False',
};

/** Keys of one entry of `datasets:` / `test_datasets:`. */
export const AXOLOTL_DATASET_KEYS: Record<string, string> = {
  // schemas/datasets.py, SFTDataset; the pre-tokenized form is docs/dataset-formats/tokenized.qmd:
  // "Pass an empty `type:`", columns exactly input_ids, attention_mask, labels, sample `ds_type: json`.
  path: 'schemas/datasets.py: path: str | None (local file or directory, hub repo, s3://, gs://)',
  ds_type: 'schemas/datasets.py: ds_type: str | None ("defines the datatype when path is a file")',
  type: 'schemas/datasets.py: type: str | UserDefinedPrompterType | None (empty for pre-tokenized rows)',
  split: 'schemas/datasets.py: split: str | None (a single JSON file has only "train", utils/data/shared.py)',
};

/** The columns of a pre-tokenized row, in the order the doc's sample writes them (docs/dataset-formats/tokenized.qmd). */
export const AXOLOTL_ROW_COLUMNS = ['input_ids', 'attention_mask', 'labels'];
