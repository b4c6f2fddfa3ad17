// stencil2d: Jacobi sweeps in HIP.

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels.h"

__global__ void jacobi_sweep(const float* u, float* unew, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int j = blockIdx.y * blockDim.y + threadIdx.y;
  if (i >= 1 && i < n - 1 && j >= 1 && j < n - 1) {
    unew[i * n + j] = 0.2f * ((((u[i * n + j] + u[(i - 1) * n + j]) + u[(i + 1) * n + j]) +
                               u[i * n + j - 1]) +
                              u[i * n + j + 1]);
  }
}

__global__ void copy_grid(const float* src, float* dst, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const int j = blockIdx.y * blockDim.y + threadIdx.y;
  if (i < n && j < n) {
    dst[i * n + j] = src[i * n + j];
  }
}

int stencil_run(int n, int max_iters, float tol, const float* in, float* out, float* residual) {
  const size_t cells = static_cast<size_t>(n) * n;
  const size_t bytes = cells * sizeof(float);
  float* cur = static_cast<float*>(std::malloc(bytes));
  float* prev = static_cast<float*>(std::malloc(bytes));
  std::memcpy(prev, in, bytes);

  float *d_u, *d_unew;
  HIP_CHECK(hipMalloc(&d_u, bytes));
  HIP_CHECK(hipMalloc(&d_unew, bytes));
  HIP_CHECK(hipMemcpy(d_u, in, bytes, hipMemcpyHostToDevice));
  HIP_CHECK(hipMemcpy(d_unew, in, bytes, hipMemcpyHostToDevice));

  const dim3 block(16, 16);
  const dim3 grid((n + block.x - 1) / block.x, (n + block.y - 1) / block.y);

  int iters = 0;
  float change = 0.0f;
  for (int it = 0; it < max_iters; it++) {
    jacobi_sweep<<<grid, block>>>(d_u, d_unew, n);
    HIP_CHECK(hipGetLastError());

    HIP_CHECK(hipMemcpy(cur, d_unew, bytes, hipMemcpyDeviceToHost));
    change = 0.0f;
    for (size_t k = 0; k < cells; k++) {
      const float d = std::fabs(cur[k] - prev[k]);
      if (d > change) change = d;
    }
    std::memcpy(prev, cur, bytes);

    copy_grid<<<grid, block>>>(d_unew, d_u, n);
    HIP_CHECK(hipGetLastError());

    iters = it + 1;
    if (change < tol) break;
  }

  HIP_CHECK(hipMemcpy(out, d_u, bytes, hipMemcpyDeviceToHost));
  *residual = change;
  HIP_CHECK(hipFree(d_u));
  HIP_CHECK(hipFree(d_unew));
  std::free(cur);
  std::free(prev);
  return iters;
}
