// stream-triad: the four STREAM kernels fused into one pass per repetition, arrays mapped once.

#include "kernels.h"

void stream_run(int n, int reps, double scalar, double* a, double* b, double* c) {
#pragma omp target data map(tofrom : a[0:n], b[0:n], c[0:n])
  {
    for (int r = 0; r < reps; r++) {
#pragma omp target teams distribute parallel for
      for (int i = 0; i < n; i++) {
        const double copied = a[i];
        const double scaled = scalar * copied;
        const double added = a[i] + scaled;
        c[i] = added;
        b[i] = scaled;
        a[i] = scaled + scalar * added;
      }
    }
  }
}
