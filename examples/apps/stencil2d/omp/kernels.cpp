// stencil2d: Jacobi sweeps with OpenMP target offload.

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels.h"

int stencil_run(int n, int max_iters, float tol, const float* in, float* out, float* residual) {
  const size_t cells = static_cast<size_t>(n) * n;
  const size_t bytes = cells * sizeof(float);
  float* u = static_cast<float*>(std::malloc(bytes));
  float* unew = static_cast<float*>(std::malloc(bytes));
  float* prev = static_cast<float*>(std::malloc(bytes));
  std::memcpy(u, in, bytes);
  std::memcpy(unew, in, bytes);
  std::memcpy(prev, in, bytes);

  int iters = 0;
  float change = 0.0f;
#pragma omp target data map(tofrom : u[0:cells]) map(to : unew[0:cells])
  {
    for (int it = 0; it < max_iters; it++) {
#pragma omp target teams distribute parallel for collapse(2) thread_limit(256)
      for (int j = 1; j < n - 1; j++) {
        for (int i = 1; i < n - 1; i++) {
          unew[i * n + j] = 0.2f * ((((u[i * n + j] + u[(i - 1) * n + j]) + u[(i + 1) * n + j]) +
                                     u[i * n + j - 1]) +
                                    u[i * n + j + 1]);
        }
      }

#pragma omp target update from(unew[0:cells])
      change = 0.0f;
      for (size_t k = 0; k < cells; k++) {
        const float d = std::fabs(unew[k] - prev[k]);
        if (d > change) change = d;
      }
      std::memcpy(prev, unew, bytes);

#pragma omp target teams distribute parallel for collapse(2) thread_limit(256)
      for (int j = 0; j < n; j++) {
        for (int i = 0; i < n; i++) {
          u[i * n + j] = unew[i * n + j];
        }
      }

      iters = it + 1;
      if (change < tol) break;
    }
  }

  std::memcpy(out, u, bytes);
  *residual = change;
  std::free(u);
  std::free(unew);
  std::free(prev);
  return iters;
}
