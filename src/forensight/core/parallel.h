// LibTorch's intra-op parallel loop (at::parallel_for), for our own CPU kernels. It is a header
// template that runs in parallel only where it is compiled with the parallel backend LibTorch was
// built with; for an OpenMP LibTorch (the wheel) that means -fopenmp (CMakeLists.txt). Include this
// header, not ATen/Parallel.h, so that a build without it fails here instead of silently running
// every loop on one thread.
#pragma once
#include <ATen/Config.h>
#include <ATen/Parallel.h>

#if AT_PARALLEL_OPENMP && !defined(_OPENMP)
#error "LibTorch uses OpenMP: compile with -fopenmp, or at::parallel_for runs on one thread"
#endif
