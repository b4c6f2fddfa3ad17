// histogram: the entry point of the part a refactoring may change (kernels.cpp).
#pragma once

#include <cstdint>

#pragma omp declare target
// Bin of a 32-bit key among nbins equal-width bins covering [0, 2^32).
inline unsigned key_bin(uint32_t key, unsigned nbins) {
  return static_cast<unsigned>((static_cast<uint64_t>(key) * nbins) >> 32);
}
#pragma omp end declare target

// Counts the n keys into hist[0 .. nbins) (overwritten) and returns the sum of the n values.
double histogram_run(int n, int nbins, const uint32_t* keys, const float* values, unsigned* hist);
