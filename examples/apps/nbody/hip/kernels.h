// nbody: the entry point of the part a refactoring may change (kernels.cpp).
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

// Advances n bodies by `steps` steps of length dt under softened all-pairs gravity (G = 1):
//   a_i = sum_j m_j (x_j - x_i) / (|x_j - x_i|^2 + softening^2)^(3/2)   (j = i included; it adds 0)
//   v_i += a_i dt;  x_i += v_i dt   (all accelerations from the positions at the start of the step)
// pos and vel hold x, y, z per body (3 * n floats each): the starting state, and the final state on
// return. mass holds n floats.
void nbody_run(int n, int steps, float dt, float softening, const float* mass, float* pos,
               float* vel);
