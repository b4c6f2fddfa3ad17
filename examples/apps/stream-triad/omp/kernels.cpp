// stream-triad: the STREAM kernels with OpenMP target offload.

#include "kernels.h"

void stream_run(int n, int reps, double scalar, double* a, double* b, double* c) {
  for (int r = 0; r < reps; r++) {
#pragma omp target data map(tofrom : a[0:n], b[0:n], c[0:n])
    {
#pragma omp target teams distribute parallel for thread_limit(32)
      for (int i = 0; i < n; i++) c[i] = a[i];

#pragma omp target teams distribute parallel for thread_limit(32)
      for (int i = 0; i < n; i++) b[i] = scalar * c[i];

#pragma omp target teams distribute parallel for thread_limit(32)
      for (int i = 0; i < n; i++) c[i] = a[i] + b[i];

#pragma omp target teams distribute parallel for thread_limit(32)
      for (int i = 0; i < n; i++) a[i] = b[i] + scalar * c[i];
    }
  }
}
