// histogram: counts and a sum with OpenMP target offload.

#include "kernels.h"

double histogram_run(int n, int nbins, const uint32_t* keys, const float* values, unsigned* hist) {
  for (int b = 0; b < nbins; b++) hist[b] = 0u;
  double sum = 0.0;

#pragma omp target data map(to : keys[0:n], values[0:n]) map(tofrom : hist[0:nbins])
  {
#pragma omp target teams distribute parallel for
    for (int i = 0; i < n; i++) {
      const unsigned bin = key_bin(keys[i], static_cast<unsigned>(nbins));
#pragma omp atomic update
      hist[bin] += 1u;
    }

#pragma omp target teams distribute parallel for map(tofrom : sum)
    for (int i = 0; i < n; i++) {
#pragma omp atomic update
      sum += static_cast<double>(values[i]);
    }
  }

  return sum;
}
