#include "kernel.h"

double series_sum(long n, int repeats) {
  double total = 0.0;
  for (int r = 0; r < repeats; r++) {
    double sum = 0.0;
#pragma omp parallel for reduction(+ : sum)
    for (long i = 0; i < n; i++) sum += 1.0 / ((double)(i + 1) * (double)(i + 1));
    total = sum;
  }
  return total;
}
