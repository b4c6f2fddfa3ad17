// stencil2d: the entry point of the part a refactoring may change (kernels.cpp).
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

// Runs up to max_iters Jacobi sweeps (each cell becomes the mean of itself and its 4 neighbours)
// over the n x n row-major grid `in` (edges held fixed) and stops after the first sweep whose
// largest absolute change is below tol. Writes the final grid to `out` (n * n floats) and that
// last sweep's largest change to *residual. Returns the number of sweeps done.
int stencil_run(int n, int max_iters, float tol, const float* in, float* out, float* residual);
