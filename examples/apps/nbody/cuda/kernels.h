// nbody: the entry point of the part a refactoring may change (kernels.cu).
#pragma once

#include <cstdio>
#include <cstdlib>

#include <cuda_runtime.h>

// Aborts the program (exit code 1) on a failed CUDA runtime call.
#define CUDA_CHECK(call)                                                                        \
  do {                                                                                          \
    const cudaError_t err_ = (call);                                                            \
    if (err_ != cudaSuccess) {                                                                  \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,                 \
                   cudaGetErrorString(err_));                                                   \
      std::exit(1);                                                                             \
    }                                                                                           \
  } while (0)

// Advances n bodies by `steps` steps of length dt under softened all-pairs gravity (G = 1):
//   a_i = sum_j m_j (x_j - x_i) / (|x_j - x_i|^2 + softening^2)^(3/2)   (j = i included; it adds 0)
//   v_i += a_i dt;  x_i += v_i dt   (all accelerations from the positions at the start of the step)
// pos and vel hold x, y, z per body (3 * n floats each): the starting state, and the final state on
// return. mass holds n floats.
void nbody_run(int n, int steps, float dt, float softening, const float* mass, float* pos,
               float* vel);
