#include "forensight/train/train_option_table.h"

#include "forensight/data/input_filter.h"
#include "forensight/models/registry.h"

namespace forensight::train {

std::vector<OptionSpec> train_option_specs(TrainOptions& o) {
  return {
      // Data
      {"data", &o.data_path, "class folders or a CSV manifest (Kaggle layout)"},
      {"out", &o.out_dir, "run directory (config, split, metrics, checkpoints, report)"},
      {"split", &o.split,
       "train/val/test as counts (50000/15000/15000) or fractions (0.8/0.1/0.1)"},
      {"cache", &o.cache_path,
       "decoded cache from `forensight data cache` to read instead of images"},
      {"image-size", &o.image_size_px, "model input side in pixels"},
      {"size-mode",
       &o.size_mode,
       "how images reach image-size",
       {"resize", "center-crop", "random-crop"}},
      {"hflip-prob", &o.hflip_prob, "probability of a horizontal flip (training only)"},
      {"blur-prob", &o.blur_prob,
       "probability of a Gaussian blur, sigma in [0, 3] (training only)"},
      {"jpeg-prob", &o.jpeg_prob, "probability of JPEG re-compression, quality in [30, 100]"},
      {"normalization", &o.normalization, "input normalisation", {"imagenet", "half"}},
      {"input-filter", &o.input_filter,
       "filter applied to the decoded pixels before normalisation, on every path: npr = x - "
       "up(down(x)) (nearest, by 2), highpass = x - mean of its 4 neighbours",
       data::input_filter_names()},
      {"hold-out-source", &o.hold_out_source,
       "leave-one-out: no image of this source (the CSV's `source` column) in train/val; the "
       "test split gets all of them (empty = none)"},
      // Model
      {"model", &o.model, "architecture", models::model_names()},
      {"vit-layers", &o.vit_layers, "ViT encoder blocks (0 = the preset's 12)"},
      {"init", &o.init_weights,
       "weights to start from: a Forensight checkpoint, or safetensors/torch.save files with "
       "torchvision, timm or Hugging Face names (head replaced if needed)"},
      {"channels-last", &o.channels_last, "NHWC memory format for convolutions"},
      // Optimisation
      {"optimizer", &o.optimizer, "optimiser", {"sgd", "adam", "adamw"}},
      {"lr", &o.lr, "base learning rate"},
      {"lr-min", &o.lr_min, "floor of the cosine schedule"},
      {"lr-schedule", &o.lr_schedule, "learning-rate schedule", {"constant", "step", "cosine"}},
      {"lr-warmup-steps", &o.lr_warmup_steps, "linear warm-up steps"},
      {"lr-step-size-epochs", &o.lr_step_size_epochs, "step schedule: decay every N epochs"},
      {"lr-step-gamma", &o.lr_step_gamma, "step schedule: decay factor"},
      {"momentum", &o.momentum, "SGD momentum"},
      {"nesterov", &o.nesterov, "SGD Nesterov momentum"},
      {"weight-decay", &o.weight_decay, "L2 (sgd, adam) or decoupled (adamw) weight decay"},
      {"label-smoothing", &o.label_smoothing, "cross-entropy label smoothing in [0, 1)"},
      {"grad-clip-norm", &o.grad_clip_norm, "clip the global gradient norm (0 = off)"},
      // Loop
      {"epochs", &o.epochs, "training epochs"},
      {"batch-size", &o.batch_size, "images per optimiser step"},
      {"max-steps", &o.max_steps, "stop after this many optimiser steps (0 = no limit)"},
      {"early-stop-metric",
       &o.early_stop_metric,
       "validation metric for best/early stop",
       {"val_loss", "val_accuracy", "val_auc"}},
      {"early-stop-patience", &o.early_stop_patience, "epochs without improvement (0 = off)"},
      {"checkpoint-every-epochs", &o.checkpoint_every_epochs, "keep epoch-N checkpoints (0 = off)"},
      {"checkpoint-every-steps", &o.checkpoint_every_steps, "also write `last` every N steps"},
      {"log-every-steps", &o.log_every_steps, "metrics.jsonl step records and log lines"},
      {"seed", &o.seed, "fixes split, initialisation, shuffling and augmentation"},
      // Execution
      {"device", &o.device, "cpu, cuda or cuda:N", {}, "FORENSIGHT_DEVICE"},
      {"threads", &o.threads, "intra-op threads (0 = LibTorch default)", {}, "FORENSIGHT_THREADS"},
      {"interop-threads", &o.interop_threads, "inter-op threads (0 = LibTorch default)"},
      {"workers",
       &o.workers,
       "loader threads (0 = decode in the training thread)",
       {},
       "FORENSIGHT_WORKERS"},
      {"eval-batch-size", &o.eval_batch_size,
       "batch size for validation and test (0 = batch-size)"},
      {"placement",
       &o.placement,
       "model placement: one device, stages run one after another (naive), or a GPipe pipeline",
       {"one", "naive", "pipeline"}},
      {"stages", &o.stages,
       "stage devices for naive/pipeline placement, e.g. cpu,cpu or cuda:0,cuda:1"},
      {"micro-batches", &o.micro_batches,
       "pipeline placement: micro-batches per batch (1..batch-size)"},
      {"amp",
       &o.amp,
       "mixed precision: autocast dtype (fp16 adds a dynamic loss scaler)",
       {"off", "bf16", "fp16"}},
      // Distribution
      {"lr-scaling",
       &o.lr_scaling,
       "data parallel: scale the learning rate by the world size (linear) or not",
       {"none", "linear"}},
      {"collective-timeout-s", &o.collective_timeout_s,
       "data parallel: seconds before a hung collective ends the job"},
      {"ddp-overlap", &o.ddp_overlap,
       "data parallel: all-reduce gradient buckets during backward (off: after it)"},
      {"ddp-bucket-mb", &o.ddp_bucket_mb, "data parallel: gradient bucket size in MB"},
      {"sync-batchnorm", &o.sync_batchnorm,
       "data parallel: BatchNorm statistics over every rank's batch (off: each rank's own)"},
  };
}

TrainOptions train_options_from_json(const nlohmann::json& config, const std::string& origin) {
  TrainOptions options;
  OptionTable table("config", train_option_specs(options));
  table.apply_json(config, origin);
  return options;
}

nlohmann::json train_options_to_json(const TrainOptions& options) {
  TrainOptions copy = options;
  OptionTable table("config", train_option_specs(copy));
  return table.to_json();
}

nlohmann::json train_options_shared_by_ranks(const TrainOptions& options) {
  // A list of what may differ rather than of what must agree: an option added later is compared
  // until someone decides otherwise.
  static const char* const kPerRank[] = {
      // Paths, which nodes may mount differently (the content is compared by the model and data
      // fingerprints; the run directory is rank 0's to write).
      "data", "out", "cache", "init",
      // Where and how fast each rank runs.
      "device", "threads", "interop-threads", "workers", "stages", "eval-batch-size",
      // What rank 0 logs and keeps, and how long a rank waits for the others.
      "log-every-steps", "checkpoint-every-epochs", "checkpoint-every-steps",
      "collective-timeout-s"};
  nlohmann::json shared = train_options_to_json(options);
  for (const char* key : kPerRank) shared.erase(key);
  return shared;
}

}  // namespace forensight::train
