// What CPU a measurement ran on: its model name, cores, and the instruction-set extensions that
// decide which kernels run (AVX2/FMA, AVX-512, AVX-512 BF16 and VNNI, AMX). Every benchmark result
// names them, because machines of one kind differ in CPU generation.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace forensight {

struct CpuInfo {
  std::string model_name;          // /proc/cpuinfo's "model name"
  int logical_cores = 0;           // what this process may run on
  std::vector<std::string> flags;  // the extensions of interest present, in a fixed order
  bool has(const std::string& flag) const;
  bool has_bf16() const { return has("avx512_bf16") || has("amx_bf16"); }
  std::string summary() const;  // "AMD EPYC 7B13, 2 cores, avx2 fma"
  nlohmann::json to_json() const;
};

// Read once from /proc/cpuinfo (an empty model name and no flags where it is absent).
const CpuInfo& cpu_info();

// What bf16 autocast costs on a CPU without bf16 instructions (CpuInfo::has_bf16 false), for the
// warnings and reports that tell a user to leave it off there: one sentence, measured by
// `forensight bench parallel --parts amp`.
const std::string& emulated_bf16_cost();

}  // namespace forensight
