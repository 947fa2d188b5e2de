#include "forensight/train/trainer.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "forensight/core/atomic_file.h"
#include "forensight/core/device.h"
#include "forensight/core/error.h"
#include "forensight/core/fault_injection.h"
#include "forensight/core/gpu_memory.h"
#include "forensight/core/memory.h"
#include "forensight/core/timer.h"
#include "forensight/data/dataset.h"
#include "forensight/data/hold_out.h"
#include "forensight/data/loader.h"
#include "forensight/data/normalize.h"
#include "forensight/data/sampler.h"
#include "forensight/data/split.h"
#include "forensight/eval/evaluate.h"
#include "forensight/eval/inference.h"
#include "forensight/eval/sharded_inference.h"
#include "forensight/models/registry.h"
#include "forensight/models/weights.h"
#include "forensight/parallel/run_fingerprint.h"
#include "forensight/parallel/strategies.h"
#include "forensight/train/checkpoint.h"
#include "forensight/train/lr_schedule.h"
#include "forensight/train/model_import.h"
#include "forensight/train/optimizer.h"
#include "forensight/train/progress.h"
#include "forensight/train/run_dir.h"
#include "forensight/train/skipped_log.h"
#include "forensight/train/train_option_table.h"

namespace forensight::train {
namespace {

// Higher is better for accuracy and AUC, lower for loss.
bool metric_improves(const std::string& metric, double value, const TrainProgress& progress) {
  if (!progress.has_best) return true;
  return metric == "val_loss" ? value < progress.best_metric : value > progress.best_metric;
}

double pick_metric(const std::string& metric, const nlohmann::json& val) {
  if (metric == "val_loss") return val.at("loss").get<double>();
  if (metric == "val_accuracy") return val.at("accuracy").get<double>();
  if (metric == "val_auc") {
    const auto& auc = val.at("roc_auc");
    return auc.is_number() ? auc.get<double>() : 0.0;
  }
  fail("unknown early-stop metric '{}': valid metrics are val_loss, val_accuracy, val_auc", metric);
}

// Peak allocated and reserved bytes from the CUDA caching allocator; absent on CPU runs.
nlohmann::json gpu_memory_record(const torch::Device& device) {
  if (!device.is_cuda()) return nlohmann::json::object();
  const GpuMemory memory = gpu_memory(device);
  return {{"gpu_peak_allocated_bytes", memory.peak_allocated_bytes},
          {"gpu_peak_reserved_bytes", memory.peak_reserved_bytes}};
}

// The run's split: the one saved in the run directory when there is one (`saved`), else a new one
// from the options, which `write` saves.
data::Split load_or_make_split(const data::Dataset& dataset, const TrainOptions& options,
                               const RunDir& run_dir, bool saved, bool resume, bool write) {
  if (saved) {
    spdlog::info("using the split saved in {}", run_dir.split_path());
    return data::load_split(run_dir.split_path(), dataset);
  }
  FS_CHECK(!resume, "cannot resume: '{}' has no split file", run_dir.split_path());
  const data::SplitSpec spec = data::parse_split_spec(options.split);
  data::Split split =
      options.hold_out_source.empty()
          ? data::make_split(dataset, spec, options.seed)
          : data::make_hold_out_split(dataset, spec, options.seed, options.hold_out_source);
  if (write) data::save_split(split, dataset, run_dir.split_path());
  return split;
}

// Whether the run directory has a checkpoint to resume from (`previous` alone when a kill came
// between the two renames of a commit, see AtomicFile::commit).
bool has_resume_checkpoint(const RunDir& run_dir) {
  return std::filesystem::exists(run_dir.checkpoint_path("last")) ||
         std::filesystem::exists(run_dir.checkpoint_path("previous"));
}

// The checkpoint a resume starts from: `last`, or, when `last` is unusable (a flipped bit, a torn
// or cut-short file) or missing, `previous` (the one `last` replaced, kept by save below) with a
// warning: the run then repeats the steps between them, which gives the same weights, since
// training is deterministic from any checkpoint.
std::unique_ptr<CheckpointReader> open_resume_checkpoint(const RunDir& run_dir,
                                                         const torch::Device& device) {
  const std::string last = run_dir.checkpoint_path("last");
  const std::string previous = run_dir.checkpoint_path("previous");
  try {
    return std::make_unique<CheckpointReader>(last, device);
  } catch (const Error& e) {
    if (!std::filesystem::exists(previous)) throw;
    auto reader = std::make_unique<CheckpointReader>(previous, device);
    spdlog::warn("cannot resume from '{}' ({}); resuming from '{}' (step {}) instead", last,
                 e.what(), previous, reader->header().progress.step);
    return reader;
  }
}

// The flags the parallel policies are made from (parallel/strategies.h).
parallel::StrategyFlags strategy_flags(const TrainOptions& options) {
  return {.device = options.device,
          .collective_timeout_s = options.collective_timeout_s,
          .ddp_overlap = options.ddp_overlap,
          .ddp_bucket_mb = options.ddp_bucket_mb,
          .sync_batchnorm = options.sync_batchnorm,
          .amp = options.amp,
          .placement = options.placement,
          .stages = options.stages,
          .micro_batches = options.micro_batches};
}

}  // namespace

TrainResult train(const TrainOptions& options, const nlohmann::json& resolved_config, bool resume) {
  Timer run_timer;
  FS_CHECK(!options.data_path.empty(), "no training data given: pass --data PATH");
  FS_CHECK(!options.out_dir.empty(), "no run directory given: pass --out RUN_DIR");
  FS_CHECK(options.batch_size >= 1, "batch size must be >= 1, got {}", options.batch_size);
  FS_CHECK(options.epochs >= 1, "epochs must be >= 1, got {}", options.epochs);
  set_thread_counts(options.threads, options.interop_threads);

  // ---- 0. Policies: distribution (this process's rank), precision, placement (after the model)
  // The distribution resolves the device, which opens the CUDA libraries when it names a GPU
  // (core/cuda_runtime.h): before the seed, since seeding asks LibTorch for its CUDA hooks, and
  // LibTorch keeps the hooks it finds first for the life of the process.
  const parallel::StrategyFlags strategies = strategy_flags(options);
  parallel::Distribution distribution(parallel::make_distribution_options(strategies));
  torch::manual_seed(options.seed);
  const bool is_main = distribution.is_main();  // only the main rank logs and writes
  if (!is_main && spdlog::get_level() < spdlog::level::warn) spdlog::set_level(spdlog::level::warn);
  const torch::Device device = distribution.device();
  parallel::Precision precision(parallel::make_precision_options(strategies, device));
  const double lr_factor = distribution.learning_rate_factor(options.lr_scaling);
  const FaultInjection faults(distribution.rank());

  // ---- 1. Setup: run directory, data, model, optimiser, schedule, resume point
  RunDir run_dir(options.out_dir);
  // A group restarted by the launcher continues from the last checkpoint when there is one. Rank
  // 0's view decides for every rank, so that all of them resume or none does.
  if (!resume && distribution.restarted()) {
    resume = distribution.main_rank_decides(has_resume_checkpoint(run_dir));
    if (resume && is_main)
      spdlog::info("restart {}: resuming from {}", distribution.rendezvous().restart_count,
                   run_dir.checkpoint_path("last"));
  }
  if (!resume) {
    FS_CHECK(!has_resume_checkpoint(run_dir) || distribution.restarted(),
             "run directory '{}' already holds a run: pass --resume to continue it, or choose "
             "another --out",
             options.out_dir);
    if (is_main) write_file_atomic(run_dir.config_path(), resolved_config.dump(2) + "\n");
  }

  data::Dataset dataset = data::load_dataset(options.data_path);
  FS_CHECK(dataset.labelled, "'{}' has no labels: training needs a labelled dataset",
           options.data_path);
  // Rank 0 sees whether the run has a split already, before it saves one: then every rank loads
  // it, else every rank makes it (deterministic in the seed) without waiting for rank 0's file.
  // The ranks' fingerprints below check that they hold the same one.
  const bool split_saved =
      distribution.main_rank_decides(std::filesystem::exists(run_dir.split_path()));
  const data::Split split =
      load_or_make_split(dataset, options, run_dir, split_saved, resume, /*write=*/is_main);
  spdlog::info("data: {} images, split {} train / {} val / {} test", dataset.size(),
               split.train().size(), split.val().size(), split.test().size());
  if (!options.hold_out_source.empty())
    spdlog::info("source '{}' is held out: its images are in the test split only",
                 options.hold_out_source);
  FS_CHECK(!split.train().empty(), "the training split of '{}' is empty", options.data_path);

  auto model = models::create_model(model_options(options));
  if (!options.init_weights.empty() && !resume) load_init_weights(*model, options.init_weights);
  // Every rank must run the same job before any trains: the same options, initial model (before
  // attach() would overwrite a different one with rank 0's) and data, or all stop, naming who
  // differs and how.
  distribution.check_ranks_agree([&] {
    return parallel::RunFingerprint{.config = train_options_shared_by_ranks(options),
                                    .model = parallel::model_fingerprint(*model),
                                    .dataset = data::split_fingerprint(split, dataset)};
  });
  model->to(device);

  data::LoaderOptions loader_options;
  loader_options.batch_size = options.batch_size;
  loader_options.workers = options.workers;
  loader_options.seed = options.seed;
  loader_options.shuffle = true;
  loader_options.pin_memory = device.is_cuda();
  loader_options.cache_path = options.cache_path;
  // Each rank reads its shard (the distributed sampler: every sample once per epoch across ranks);
  // --batch-size is per rank.
  loader_options.rank = distribution.rank();
  loader_options.world_size = distribution.world_size();
  loader_options.drop_last =
      data::samples_per_rank(static_cast<int64_t>(split.train().size()),
                             data::SamplerOptions{.world_size = distribution.world_size()}) >
      options.batch_size;
  data::DataLoader train_loader(dataset, split.train(), train_transform(options), loader_options);

  data::LoaderOptions eval_loader_options = loader_options;
  eval_loader_options.shuffle = false;
  eval_loader_options.drop_last = false;
  eval_loader_options.batch_size =
      options.eval_batch_size > 0 ? options.eval_batch_size : options.batch_size;
  std::unique_ptr<data::DataLoader> val_loader;
  if (!split.val().empty())
    val_loader = std::make_unique<data::DataLoader>(dataset, split.val(), eval_transform(options),
                                                    eval_loader_options);

  const data::NormPreset norm = data::parse_norm_preset(options.normalization);
  const data::InputFilter input_filter = data::parse_input_filter(options.input_filter);
  const bool channels_last_input = input_channels_last(options, device.is_cpu());
  // Placement splits the model into stages (timed on an example batch) and moves them to their
  // devices, before the optimiser takes the parameters.
  const std::unique_ptr<parallel::Placement> placement = parallel::make_training_placement(
      strategies, model, options.model,
      parallel::ExampleBatch{options.batch_size, options.image_size_px, device,
                             channels_last_input},
      distribution, /*log=*/is_main);

  OptimizerOptions optimizer_options;
  optimizer_options.name = options.optimizer;
  optimizer_options.lr = options.lr * lr_factor;
  optimizer_options.momentum = options.momentum;
  optimizer_options.nesterov = options.nesterov;
  optimizer_options.weight_decay = options.weight_decay;
  auto optimizer = make_optimizer(model->parameters(), optimizer_options);

  const int64_t steps_per_epoch = train_loader.batches_per_epoch();
  int64_t total_steps = steps_per_epoch * options.epochs;
  if (options.max_steps > 0) total_steps = std::min(total_steps, options.max_steps);
  ScheduleOptions schedule;
  schedule.kind = parse_schedule_kind(options.lr_schedule);
  schedule.lr = options.lr * lr_factor;
  schedule.lr_min = options.lr_min * lr_factor;
  schedule.warmup_steps = options.lr_warmup_steps;
  schedule.total_steps = steps_per_epoch * options.epochs;
  schedule.steps_per_epoch = steps_per_epoch;
  schedule.step_size_epochs = options.lr_step_size_epochs;
  schedule.step_gamma = options.lr_step_gamma;

  eval::InferenceOptions inference_options;
  inference_options.normalization = norm;
  inference_options.input_filter = input_filter;
  inference_options.device = placement->input_device();
  inference_options.channels_last = channels_last_input;
  inference_options.forward = [&placement](const torch::Tensor& x) {
    return placement->forward(x);
  };
  FS_CHECK(options.label_smoothing >= 0.0 && options.label_smoothing < 1.0,
           "label smoothing must be in [0, 1), got {}", options.label_smoothing);
  pick_metric(options.early_stop_metric, {{"loss", 0.0}, {"accuracy", 0.0}, {"roc_auc", 0.0}});

  TrainProgress progress;
  if (resume) {
    FS_CHECK(has_resume_checkpoint(run_dir), "cannot resume '{}': no checkpoint at '{}'",
             options.out_dir, run_dir.checkpoint_path("last"));
    if (is_main) {
      const int stale = run_dir.remove_stale_temporaries();
      if (stale > 0)
        spdlog::info("removed {} temporary file(s) of checkpoint writes cut short in {}", stale,
                     run_dir.path());
    }
    const std::unique_ptr<CheckpointReader> reader = open_resume_checkpoint(run_dir, device);
    reader->load_model(*model);
    reader->load_optimizer(*optimizer);
    const Checkpoint& checkpoint = reader->header();
    progress = checkpoint.progress;
    precision.load_scaler_state(checkpoint.loss_scaler);
    progress.batch_in_epoch =
        distribution.resume_batch_in_epoch(progress.batch_in_epoch, checkpoint.world_size);
    spdlog::info("resuming {} at epoch {}, batch {}, step {}", options.out_dir, progress.epoch + 1,
                 progress.batch_in_epoch, progress.step);
  }
  // Every rank starts from rank 0's weights; gradient hooks go on after the last load.
  distribution.attach(*model);
  std::optional<MetricsLog> metrics;
  if (is_main) metrics.emplace(run_dir.metrics_path(), resume ? progress.step : -1);
  // Files the loaders skipped, reported by rank 0 for every rank (a collective: every rank calls it
  // at the same points). A resumed run reports again the bad files it meets again.
  std::optional<SkippedLog> skipped_log;
  if (is_main) skipped_log.emplace(run_dir.skipped_path());
  auto report_skipped = [&](data::DataLoader& loader, const std::string& split_name,
                            int64_t epoch) {
    std::string lines;
    for (const auto& row : skipped_rows(loader.take_skipped(), split_name, epoch))
      lines += skipped_csv_line(row);
    std::string all;  // every rank's lines (only ours with one process)
    for (const std::string& rank_lines : distribution.gather_strings(lines)) all += rank_lines;
    if (is_main && !all.empty()) skipped_log->write(all);
  };
  std::vector<torch::Tensor> parameters = model->parameters();
  auto loss_fn = [&options](const torch::Tensor& logits, const torch::Tensor& y) {
    return torch::nn::functional::cross_entropy(
        logits, y,
        torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(options.label_smoothing));
  };

  auto save = [&](const std::string& name) {
    if (!is_main) return;
    Checkpoint checkpoint{progress, resolved_config.dump()};
    checkpoint.loss_scaler = precision.scaler_state();
    checkpoint.world_size = distribution.world_size();
    // The `last` it replaces is kept as `previous`: a resume that finds `last` damaged or
    // missing falls back to it.
    save_checkpoint(run_dir.checkpoint_path(name), *model, optimizer.get(), checkpoint,
                    name == "last" ? run_dir.checkpoint_path("previous") : "");
  };

  // ---- The epochs
  TrainResult result;
  result.run_dir = options.out_dir;
  ProgressBar bar(total_steps, is_main ? options.log_every_steps : 0);
  model->train();
  bool stop = progress.step >= total_steps;
  int64_t last_epoch = std::max<int64_t>(progress.epoch - 1, 0);  // the one trained last
  for (int64_t epoch = progress.epoch; epoch < options.epochs && !stop; ++epoch) {
    progress.epoch = epoch;
    last_epoch = epoch;
    train_loader.start_epoch(epoch, progress.batch_in_epoch);
    Timer epoch_timer;
    double epoch_loss_sum = 0.0;
    int64_t epoch_images = 0, epoch_correct = 0, epoch_batches = 0, epoch_skipped_steps = 0;
    double load_seconds = 0.0, compute_seconds = 0.0, sync_exposed_seconds = 0.0;

    while (true) {
      // 1. Load: wait for the next batch from the loader's workers.
      Timer step_timer;
      std::optional<data::Batch> batch = train_loader.next();
      const double load_s = step_timer.seconds();
      if (!batch) break;
      const int64_t batch_size = batch->images.size(0);
      if (batch_size == 0) continue;
      Timer compute_timer;

      // 2+3. Forward and backward, by the placement, under the precision's autocast: uint8
      // crosses to the device and becomes float there; the loss is scaled before backward.
      torch::Tensor x =
          data::normalize_batch(batch->images, norm, input_filter, placement->input_device(),
                                channels_last_input);  // (B, 3, H, W) float
      torch::Tensor y = batch->labels.to(placement->input_device(),
                                         /*non_blocking=*/true);  // (B) int64
      optimizer->zero_grad();
      distribution.begin_backward(placement->backward_passes_per_step());
      const parallel::StepOutput out = placement->forward_backward(x, y, loss_fn, precision);

      // 4. Sync: gradient buckets averaged over the ranks (launched during backward).
      const parallel::GradientSyncStats sync = distribution.finish_backward();

      // 5. Step: unscale and check (fp16), clip, schedule, update.
      const double lr = learning_rate_at(schedule, progress.step);
      set_learning_rate(*optimizer, lr);
      const bool stepped = precision.step(*optimizer, parameters, options.grad_clip_norm);

      // 6. Record.
      const torch::Tensor& logits = out.logits;  // (B, 2)
      const double loss_value = out.loss.item<double>();
      FS_CHECK(std::isfinite(loss_value),
               "training diverged at step {} (loss {}): lower --lr or enable --grad-clip-norm",
               progress.step, loss_value);
      const double compute_s = compute_timer.seconds();
      const double step_s = step_timer.seconds();
      ++progress.step;
      ++progress.batch_in_epoch;
      ++epoch_batches;
      epoch_loss_sum += loss_value * batch_size;
      epoch_images += batch_size;
      epoch_correct += logits.argmax(1).eq(y.to(logits.device())).sum().item<int64_t>();
      epoch_skipped_steps += stepped ? 0 : 1;
      load_seconds += load_s;
      compute_seconds += compute_s;
      sync_exposed_seconds += sync.exposed_seconds;
      const double images_per_s = batch_size / std::max(step_s, 1e-9);
      if (is_main) bar.update(epoch, progress.step, loss_value, images_per_s);
      faults.after_step(progress.step);
      if (is_main && options.log_every_steps > 0 && progress.step % options.log_every_steps == 0) {
        nlohmann::json record = {{"kind", "step"},
                                 {"epoch", epoch},
                                 {"step", progress.step},
                                 {"loss", loss_value},
                                 {"lr", lr},
                                 {"images_per_s", images_per_s},
                                 {"step_s", step_s},
                                 {"data_wait_fraction", load_s / std::max(step_s, 1e-9)},
                                 {"peak_rss_bytes", peak_rss_bytes()}};
        record.update(distribution.step_record(sync));
        record.update(precision.step_record(stepped));
        record.update(gpu_memory_record(device));
        metrics->write(record);
      }
      if (options.checkpoint_every_steps > 0 && progress.step % options.checkpoint_every_steps == 0)
        save("last");
      if (progress.step >= total_steps) {
        stop = true;
        break;
      }
    }
    bar.finish();
    const bool epoch_complete = !stop || progress.batch_in_epoch >= steps_per_epoch;

    // Validation at the end of the epoch (or of the step budget).
    // Each rank validates its shard; every rank gets the merged result, so that the best-checkpoint
    // and early-stop decisions agree.
    nlohmann::json val;
    if (val_loader) {
      auto inference = eval::gather_inference(
          eval::run_inference(*model, *val_loader, inference_options), split.val(), distribution);
      val = eval::summarize(inference);
    }
    const double epoch_s = epoch_timer.seconds();
    report_skipped(train_loader, "train", epoch);
    if (val_loader) report_skipped(*val_loader, "val", epoch);
    const auto& stats = train_loader.epoch_stats();
    int64_t skipped_files = 0;
    {
      // The epoch's totals over every rank.
      const std::vector<double> totals = distribution.sum(
          {epoch_loss_sum, static_cast<double>(epoch_images), static_cast<double>(epoch_correct),
           static_cast<double>(stats.skipped), static_cast<double>(epoch_skipped_steps)});
      epoch_loss_sum = totals[0];
      epoch_images = static_cast<int64_t>(totals[1]);
      epoch_correct = static_cast<int64_t>(totals[2]);
      skipped_files = static_cast<int64_t>(totals[3]);
      epoch_skipped_steps = static_cast<int64_t>(totals[4]) / distribution.world_size();
    }
    nlohmann::json record = {
        {"kind", "epoch"},
        {"epoch", epoch},
        {"step", progress.step},
        {"train_loss", epoch_images ? epoch_loss_sum / epoch_images : 0.0},
        {"train_accuracy", epoch_images ? static_cast<double>(epoch_correct) / epoch_images : 0.0},
        {"images_per_s", epoch_images / std::max(epoch_s, 1e-9)},
        {"epoch_s", epoch_s},
        {"data_wait_fraction", load_seconds / std::max(load_seconds + compute_seconds, 1e-9)},
        {"skipped_files", skipped_files},
        {"peak_rss_bytes", peak_rss_bytes()}};
    record.update(distribution.epoch_record(sync_exposed_seconds));
    record.update(precision.epoch_record(epoch_skipped_steps));
    record.update(gpu_memory_record(device));
    if (!val.empty()) record["val"] = val;
    if (is_main) metrics->write(record);
    if (is_main)
      spdlog::info(
          "epoch {}: train loss {:.4f} acc {:.4f}{} ({:.1f} s, {:.1f} img/s, {} skipped)",
          epoch + 1, record["train_loss"].get<double>(), record["train_accuracy"].get<double>(),
          val.empty() ? std::string()
                      : fmt::format(", val loss {:.4f} acc {:.4f}", val["loss"].get<double>(),
                                    val["accuracy"].get<double>()),
          epoch_s, record["images_per_s"].get<double>(), skipped_files);

    // Checkpoints: best by the early-stop metric, last, and every N epochs.
    if (!val.empty()) {
      const double value = pick_metric(options.early_stop_metric, val);
      if (metric_improves(options.early_stop_metric, value, progress)) {
        progress.best_metric = value;
        progress.has_best = true;
        progress.epochs_without_improvement = 0;
        save("best");
      } else {
        ++progress.epochs_without_improvement;
      }
    }
    if (epoch_complete) {
      progress.epoch = epoch + 1;
      progress.batch_in_epoch = 0;
      ++result.epochs_completed;
    }
    save("last");
    if (epoch_complete && options.checkpoint_every_epochs > 0 &&
        (epoch + 1) % options.checkpoint_every_epochs == 0)
      save(fmt::format("epoch-{}", epoch + 1));
    if (options.early_stop_patience > 0 &&
        progress.epochs_without_improvement >= options.early_stop_patience) {
      spdlog::info("early stop: {} did not improve for {} epochs", options.early_stop_metric,
                   progress.epochs_without_improvement);
      result.stopped_early = true;
      break;
    }
  }

  // ---- Final: the best checkpoint on the held-out test split, as a report (each rank tests its
  // shard once rank 0's last checkpoint is on disk; rank 0 writes the report).
  distribution.barrier();
  if (!split.test().empty()) {
    const std::string best = std::filesystem::exists(run_dir.checkpoint_path("best"))
                                 ? run_dir.checkpoint_path("best")
                                 : run_dir.checkpoint_path("last");
    load_checkpoint(best, *model, nullptr, device);
    data::DataLoader test_loader(dataset, split.test(), eval_transform(options),
                                 eval_loader_options);
    auto inference = eval::gather_inference(
        eval::run_inference(*model, test_loader, inference_options), split.test(), distribution);
    report_skipped(test_loader, "test", last_epoch);
    if (is_main)
      result.final_metrics = eval::write_evaluation_report(inference, dataset, run_dir.path(),
                                                           "test", best, options.hold_out_source);
  }
  result.steps = progress.step;
  result.seconds = run_timer.seconds();
  return result;
}

}  // namespace forensight::train
