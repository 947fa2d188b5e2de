#include "forensight/train/trainer.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "forensight/core/atomic_file.h"
#include "forensight/core/device.h"
#include "forensight/core/error.h"
#include "forensight/core/gpu_memory.h"
#include "forensight/core/memory.h"
#include "forensight/core/timer.h"
#include "forensight/data/dataset.h"
#include "forensight/data/loader.h"
#include "forensight/data/normalize.h"
#include "forensight/data/split.h"
#include "forensight/eval/evaluate.h"
#include "forensight/eval/inference.h"
#include "forensight/models/registry.h"
#include "forensight/models/weights.h"
#include "forensight/train/checkpoint.h"
#include "forensight/train/lr_schedule.h"
#include "forensight/train/optimizer.h"
#include "forensight/train/progress.h"
#include "forensight/train/run_dir.h"

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

data::Split load_or_make_split(const data::Dataset& dataset, const TrainOptions& options,
                               const RunDir& run_dir, bool resume) {
  if (std::filesystem::exists(run_dir.split_path())) {
    spdlog::info("using the split saved in {}", run_dir.split_path());
    return data::load_split(run_dir.split_path(), dataset);
  }
  FS_CHECK(!resume, "cannot resume: '{}' has no split file", run_dir.split_path());
  data::Split split =
      data::make_split(dataset, data::parse_split_spec(options.split), options.seed);
  data::save_split(split, dataset, run_dir.split_path());
  return split;
}

}  // namespace

TrainResult train(const TrainOptions& options, const nlohmann::json& resolved_config, bool resume) {
  Timer run_timer;
  FS_CHECK(!options.data_path.empty(), "no training data given: pass --data PATH");
  FS_CHECK(!options.out_dir.empty(), "no run directory given: pass --out RUN_DIR");
  FS_CHECK(options.batch_size >= 1, "batch size must be >= 1, got {}", options.batch_size);
  FS_CHECK(options.epochs >= 1, "epochs must be >= 1, got {}", options.epochs);
  set_thread_counts(options.threads, options.interop_threads);
  const torch::Device device = parse_device(options.device);
  torch::manual_seed(options.seed);

  // ---- 0. Setup: run directory, data, model, optimiser, schedule, resume point
  RunDir run_dir(options.out_dir);
  if (!resume) {
    FS_CHECK(!std::filesystem::exists(run_dir.checkpoint_path("last")),
             "run directory '{}' already holds a run: pass --resume to continue it, or choose "
             "another --out",
             options.out_dir);
    write_file_atomic(run_dir.config_path(), resolved_config.dump(2) + "\n");
  }

  data::Dataset dataset = data::load_dataset(options.data_path);
  FS_CHECK(dataset.labelled, "'{}' has no labels: training needs a labelled dataset",
           options.data_path);
  data::Split split = load_or_make_split(dataset, options, run_dir, resume);
  spdlog::info("data: {} images, split {} train / {} val / {} test", dataset.size(),
               split.train().size(), split.val().size(), split.test().size());
  FS_CHECK(!split.train().empty(), "the training split of '{}' is empty", options.data_path);

  data::LoaderOptions loader_options;
  loader_options.batch_size = options.batch_size;
  loader_options.workers = options.workers;
  loader_options.seed = options.seed;
  loader_options.shuffle = true;
  loader_options.drop_last = split.train().size() > static_cast<size_t>(options.batch_size);
  loader_options.pin_memory = device.is_cuda();
  loader_options.cache_path = options.cache_path;
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

  auto model = models::create_model(model_options(options));
  if (!options.init_weights.empty() && !resume) {
    models::LoadWeightsOptions weight_options;
    weight_options.replace_head_if_class_count_differs = true;
    models::load_weights(*model, options.init_weights, weight_options);
  }
  model->to(device);

  OptimizerOptions optimizer_options;
  optimizer_options.name = options.optimizer;
  optimizer_options.lr = options.lr;
  optimizer_options.momentum = options.momentum;
  optimizer_options.nesterov = options.nesterov;
  optimizer_options.weight_decay = options.weight_decay;
  auto optimizer = make_optimizer(model->parameters(), optimizer_options);

  const int64_t steps_per_epoch = train_loader.batches_per_epoch();
  int64_t total_steps = steps_per_epoch * options.epochs;
  if (options.max_steps > 0) total_steps = std::min(total_steps, options.max_steps);
  ScheduleOptions schedule;
  schedule.kind = parse_schedule_kind(options.lr_schedule);
  schedule.lr = options.lr;
  schedule.lr_min = options.lr_min;
  schedule.warmup_steps = options.lr_warmup_steps;
  schedule.total_steps = steps_per_epoch * options.epochs;
  schedule.steps_per_epoch = steps_per_epoch;
  schedule.step_size_epochs = options.lr_step_size_epochs;
  schedule.step_gamma = options.lr_step_gamma;

  const data::NormPreset norm = data::parse_norm_preset(options.normalization);
  const bool channels_last_input = input_channels_last(options, device.is_cpu());
  eval::InferenceOptions inference_options{norm, device, channels_last_input};
  FS_CHECK(options.label_smoothing >= 0.0 && options.label_smoothing < 1.0,
           "label smoothing must be in [0, 1), got {}", options.label_smoothing);
  pick_metric(options.early_stop_metric, {{"loss", 0.0}, {"accuracy", 0.0}, {"roc_auc", 0.0}});

  TrainProgress progress;
  if (resume) {
    const std::string last = run_dir.checkpoint_path("last");
    FS_CHECK(std::filesystem::exists(last), "cannot resume '{}': no checkpoint at '{}'",
             options.out_dir, last);
    progress = load_checkpoint(last, *model, optimizer.get(), device).progress;
    spdlog::info("resuming {} at epoch {}, batch {}, step {}", options.out_dir, progress.epoch + 1,
                 progress.batch_in_epoch, progress.step);
  }
  MetricsLog metrics(run_dir.metrics_path(), resume ? progress.step : -1);

  auto save = [&](const std::string& name) {
    save_checkpoint(run_dir.checkpoint_path(name), *model, optimizer.get(),
                    Checkpoint{progress, resolved_config.dump()});
  };

  // ---- The epochs
  TrainResult result;
  result.run_dir = options.out_dir;
  ProgressBar bar(total_steps, options.log_every_steps);
  model->train();
  bool stop = progress.step >= total_steps;
  for (int64_t epoch = progress.epoch; epoch < options.epochs && !stop; ++epoch) {
    progress.epoch = epoch;
    train_loader.start_epoch(epoch, progress.batch_in_epoch);
    Timer epoch_timer;
    double epoch_loss_sum = 0.0;
    int64_t epoch_images = 0, epoch_correct = 0, epoch_batches = 0;
    double load_seconds = 0.0, compute_seconds = 0.0;

    while (true) {
      // 1. Load: wait for the next batch from the loader's workers.
      Timer step_timer;
      std::optional<data::Batch> batch = train_loader.next();
      const double load_s = step_timer.seconds();
      if (!batch) break;
      const int64_t batch_size = batch->images.size(0);
      if (batch_size == 0) continue;
      Timer compute_timer;

      // 2. Forward: uint8 crosses to the device, becomes float there.
      torch::Tensor x = data::normalize_batch(batch->images, norm, device,
                                              channels_last_input);       // (B, 3, H, W) float
      torch::Tensor y = batch->labels.to(device, /*non_blocking=*/true);  // (B) int64
      torch::Tensor logits = model->forward(x);                           // (B, 2)
      torch::Tensor loss = torch::nn::functional::cross_entropy(
          logits, y,
          torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(
              options.label_smoothing));

      // 3. Backward.
      optimizer->zero_grad();
      loss.backward();

      // 4. Sync: single process, nothing to all-reduce (the distribution policy's place).

      // 5. Step: clip, schedule, update.
      if (options.grad_clip_norm > 0)
        torch::nn::utils::clip_grad_norm_(model->parameters(), options.grad_clip_norm);
      const double lr = learning_rate_at(schedule, progress.step);
      set_learning_rate(*optimizer, lr);
      optimizer->step();

      // 6. Record.
      const double loss_value = loss.item<double>();
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
      epoch_correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      load_seconds += load_s;
      compute_seconds += compute_s;
      const double images_per_s = batch_size / std::max(step_s, 1e-9);
      bar.update(epoch, progress.step, loss_value, images_per_s);
      if (options.log_every_steps > 0 && progress.step % options.log_every_steps == 0) {
        nlohmann::json record = {{"kind", "step"},
                                 {"epoch", epoch},
                                 {"step", progress.step},
                                 {"loss", loss_value},
                                 {"lr", lr},
                                 {"images_per_s", images_per_s},
                                 {"step_s", step_s},
                                 {"data_wait_fraction", load_s / std::max(step_s, 1e-9)},
                                 {"peak_rss_bytes", peak_rss_bytes()}};
        record.update(gpu_memory_record(device));
        metrics.write(record);
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
    nlohmann::json val;
    if (val_loader) {
      auto inference = eval::run_inference(*model, *val_loader, inference_options);
      val = eval::summarize(inference);
    }
    const double epoch_s = epoch_timer.seconds();
    const auto& stats = train_loader.epoch_stats();
    nlohmann::json record = {
        {"kind", "epoch"},
        {"epoch", epoch},
        {"step", progress.step},
        {"train_loss", epoch_images ? epoch_loss_sum / epoch_images : 0.0},
        {"train_accuracy", epoch_images ? static_cast<double>(epoch_correct) / epoch_images : 0.0},
        {"images_per_s", epoch_images / std::max(epoch_s, 1e-9)},
        {"epoch_s", epoch_s},
        {"data_wait_fraction", load_seconds / std::max(load_seconds + compute_seconds, 1e-9)},
        {"skipped_files", stats.skipped},
        {"peak_rss_bytes", peak_rss_bytes()}};
    record.update(gpu_memory_record(device));
    if (!val.empty()) record["val"] = val;
    metrics.write(record);
    spdlog::info(
        "epoch {}: train loss {:.4f} acc {:.4f}{} ({:.1f} s, {:.1f} img/s, {} skipped)", epoch + 1,
        record["train_loss"].get<double>(), record["train_accuracy"].get<double>(),
        val.empty() ? std::string()
                    : fmt::format(", val loss {:.4f} acc {:.4f}", val["loss"].get<double>(),
                                  val["accuracy"].get<double>()),
        epoch_s, record["images_per_s"].get<double>(), stats.skipped);

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

  // ---- Final: the best checkpoint on the held-out test split, as a report.
  if (!split.test().empty()) {
    const std::string best = std::filesystem::exists(run_dir.checkpoint_path("best"))
                                 ? run_dir.checkpoint_path("best")
                                 : run_dir.checkpoint_path("last");
    load_checkpoint(best, *model, nullptr, device);
    data::DataLoader test_loader(dataset, split.test(), eval_transform(options),
                                 eval_loader_options);
    auto inference = eval::run_inference(*model, test_loader, inference_options);
    result.final_metrics =
        eval::write_evaluation_report(inference, dataset, run_dir.path(), "test", best);
  }
  result.steps = progress.step;
  result.seconds = run_timer.seconds();
  return result;
}

}  // namespace forensight::train
