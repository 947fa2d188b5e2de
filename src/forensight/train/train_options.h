// Everything that defines a training run, as one plain struct: filled from a preset, then a config
// file, then flags; saved resolved in the run directory so that `--resume` and reports can read
// exactly what ran.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace forensight::train {

struct TrainOptions {
  // Data
  std::string data_path;              // class folders or a CSV manifest
  std::string out_dir;                // run directory
  std::string split = "0.8/0.1/0.1";  // train/val/test, counts or fractions
  std::string cache_path;             // decoded cache to read instead of JPEGs ("" = none)
  int image_size_px = 224;            // model input side
  std::string size_mode = "resize";   // resize, center-crop, random-crop (native resolution)
  double hflip_prob = 0.5;            // training-time augmentations ...
  double blur_prob = 0.0;
  double jpeg_prob = 0.0;
  std::string normalization = "imagenet";  // imagenet (ResNet) or half (ViT: mean = std = 0.5)
  std::string input_filter = "none";       // none, npr, highpass (data/input_filter.h)
  std::string hold_out_source;  // keep this `source` out of train/val, test on it ("" = none)

  // Model
  std::string model = "resnet18";  // resnet18, vit-tiny, vit-small, vit-base
  int vit_layers = 0;              // ViT encoder blocks (0 = the preset's 12)
  std::string init_weights;   // weights to start from: any file `import` reads ("" = random init)
  bool channels_last = true;  // NHWC convolutions (ResNet; faster on CPU and GPU)

  // Optimisation
  std::string optimizer = "adam";        // sgd, adam, adamw
  double lr = 1e-4;                      // base learning rate
  double lr_min = 0.0;                   // floor of the cosine schedule
  std::string lr_schedule = "constant";  // constant, step, cosine
  int64_t lr_warmup_steps = 0;           // linear warm-up from 0 to lr
  int64_t lr_step_size_epochs = 10;      // step schedule: decay every N epochs ...
  double lr_step_gamma = 0.1;            // ... by this factor
  double momentum = 0.9;                 // SGD
  bool nesterov = false;                 // SGD
  double weight_decay = 0.0;             // L2 (SGD, Adam) or decoupled (AdamW)
  double label_smoothing = 0.0;          // cross-entropy label smoothing in [0, 1)
  double grad_clip_norm = 0.0;           // clip the global gradient norm (0 = off)

  // Loop
  int epochs = 1;
  int batch_size = 32;
  int64_t max_steps = 0;  // stop after this many optimiser steps (0 = no limit)
  std::string early_stop_metric = "val_loss";  // val_loss, val_accuracy, val_auc
  int early_stop_patience = 0;  // epochs without improvement before stopping (0 = off)
  int checkpoint_every_epochs =
      1;  // also keep epoch-N checkpoints every N epochs (0 = only last/best)
  int64_t checkpoint_every_steps = 0;  // write `last` every N steps too (0 = at epoch ends only)
  int64_t log_every_steps = 10;        // metrics.jsonl step records
  int64_t seed = 0;                    // fixes split, init, shuffling, augmentation

  // Execution
  std::string device = "cpu";     // cpu, cuda, cuda:N
  int threads = 0;                // intra-op threads (0 = LibTorch's default)
  int interop_threads = 0;        // inter-op threads (0 = LibTorch's default)
  int workers = 2;                // loader threads (0 = decode in the training thread)
  int eval_batch_size = 0;        // 0 = batch_size
  std::string placement = "one";  // model placement: one, naive (stages in turn), pipeline (GPipe)
  std::string stages;             // stage devices, "cpu,cpu" or "cuda:0,cuda:1" (naive, pipeline)
  int micro_batches = 4;          // pipeline: micro-batches per batch, 1..batch_size
  std::string amp = "off";        // mixed precision: off, bf16 or fp16 (parallel/precision.h)

  // Distribution (data parallel over the ranks of `forensight launch`, torchrun or srun)
  std::string lr_scaling = "none";    // none, or linear: lr x world size (Goyal et al. 2017)
  double collective_timeout_s = 300;  // a dead or hung rank ends the job after this long
  bool ddp_overlap = true;            // all-reduce gradient buckets during backward
  double ddp_bucket_mb = 25;          // gradient bucket size (the first is 1 MB)
  bool sync_batchnorm = false;        // BatchNorm statistics over every rank's batch
};

}  // namespace forensight::train

#include "forensight/data/transform.h"
#include "forensight/models/registry.h"

namespace forensight::train {

// What a run's options mean for the pieces it builds. Throws Error listing valid size modes.
data::TransformOptions train_transform(const TrainOptions& options);
// Deterministic counterpart for validation, test and prediction: no flips or degradations, and a
// center crop where training crops at random.
data::TransformOptions eval_transform(const TrainOptions& options);
models::ModelOptions model_options(const TrainOptions& options);
// The layout to build the model's input batch in: channels-last for a channels-last model, except
// on the CPU, where a channels-last ResNet runs its stem NCHW (models/resnet.cpp) and would undo
// the conversion.
bool input_channels_last(const TrainOptions& options, bool on_cpu);

}  // namespace forensight::train
