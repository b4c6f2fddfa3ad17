// histogram: counts with atomics and the sum as a reduction, in one pass over the keys.

#include "kernels.h"

double histogram_run(int n, int nbins, const uint32_t* keys, const float* values, unsigned* hist) {
  for (int b = 0; b < nbins; b++) hist[b] = 0u;
  double sum = 0.0;

#pragma omp target teams distribute parallel for map(to : keys[0:n], values[0:n]) \
    map(tofrom : hist[0:nbins]) reduction(+ : sum)
  for (int i = 0; i < n; i++) {
    const unsigned bin = key_bin(keys[i], static_cast<unsigned>(nbins));
#pragma omp atomic update
    hist[bin] += 1u;
    sum += static_cast<double>(values[i]);
  }

  return sum;
}
