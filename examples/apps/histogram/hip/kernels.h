// histogram: the entry point of the part a refactoring may change (kernels.cpp).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <hip/hip_runtime.h>

// Aborts the program (exit code 1) on a failed HIP runtime call.
#define HIP_CHECK(call)                                                                         \
  do {                                                                                          \
    const hipError_t err_ = (call);                                                             \
    if (err_ != hipSuccess) {                                                                   \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,                 \
                   hipGetErrorString(err_));                                                    \
      std::exit(1);                                                                             \
    }                                                                                           \
  } while (0)

// Bin of a 32-bit key among nbins equal-width bins covering [0, 2^32).
__host__ __device__ inline unsigned key_bin(uint32_t key, unsigned nbins) {
  return static_cast<unsigned>((static_cast<uint64_t>(key) * nbins) >> 32);
}

// Counts the n keys into hist[0 .. nbins) (overwritten) and returns the sum of the n values.
double histogram_run(int n, int nbins, const uint32_t* keys, const float* values, unsigned* hist);
