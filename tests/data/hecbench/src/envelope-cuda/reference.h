#pragma once
// Host reference of the running-window envelope, shared by the cuda and omp variants (the omp
// Makefile reads it from here, as some HeCBench omp variants read their cuda sibling's files).
// Written for lassi_hpc's tests.
#include "window.h"

static void reference_envelope(const float* x, float* lower, float* upper, int n) {
  for (int i = 0; i < n; i++) {
    float lo = x[i], hi = x[i];
    for (int k = window_begin(i); k <= window_end(i, n); k++) {
      lo = x[k] < lo ? x[k] : lo;
      hi = x[k] > hi ? x[k] : hi;
    }
    lower[i] = lo;
    upper[i] = hi;
  }
}
