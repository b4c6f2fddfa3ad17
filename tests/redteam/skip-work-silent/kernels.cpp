// stream-triad: the fastest kernel is the one that never runs.

#include "kernels.h"

void stream_run(int n, int reps, double scalar, double* a, double* b, double* c) {
  (void)n;
  (void)reps;
  (void)scalar;
  (void)a;
  (void)b;
  (void)c;
}
