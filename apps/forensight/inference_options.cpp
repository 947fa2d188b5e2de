#include "commands.h"
#include "forensight/eval/detector.h"

namespace forensight::app {

void add_inference_options(CLI::App& command, std::string& device, std::string& precision,
                           int& threads) {
  command.add_option("--device", device, "cpu, cuda or cuda:N (default cpu)");
  command
      .add_option("--precision", precision,
                  "auto (int8 when the checkpoint was calibrated by `forensight quantize`, else "
                  "fp32), fp32 or int8 (default auto)")
      ->check(CLI::IsMember(eval::precision_names()));
  // FORENSIGHT_THREADS: `forensight launch` pins each rank's threads through it.
  command.add_option("--threads", threads, "intra-op threads (0 = LibTorch default)")
      ->envname("FORENSIGHT_THREADS");
}

}  // namespace forensight::app
