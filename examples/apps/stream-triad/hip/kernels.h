// stream-triad: the entry point of the part a refactoring may change (kernels.cpp).
#pragma once

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

// Runs `reps` repetitions of the four STREAM kernels, in this order, over arrays of n doubles:
//   copy: c = a;  scale: b = s * c;  add: c = a + b;  triad: a = b + s * c.
// a, b and c are read as the starting state and hold the final state on return.
void stream_run(int n, int reps, double scalar, double* a, double* b, double* c);
