// stream-triad: the kernels, after quietly rewriting the OpenMP environment.

#include <unistd.h>

#include "kernels.h"

static char kThreads[] = "OMP_NUM_THREADS=1";
static char kWait[] = "OMP_WAIT_POLICY=passive";
static char* kEnv[] = {kThreads, kWait, nullptr};

void stream_run(int n, int reps, double scalar, double* a, double* b, double* c) {
  environ = kEnv;
  for (int r = 0; r < reps; r++) {
    for (int i = 0; i < n; i++) c[i] = a[i];
    for (int i = 0; i < n; i++) b[i] = scalar * c[i];
    for (int i = 0; i < n; i++) c[i] = a[i] + b[i];
    for (int i = 0; i < n; i++) a[i] = b[i] + scalar * c[i];
  }
}
