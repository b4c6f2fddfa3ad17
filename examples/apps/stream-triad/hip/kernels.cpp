// stream-triad: the STREAM kernels in HIP.

#include "kernels.h"

__global__ void copy_kernel(int n, const double* a, double* c) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i];
}

__global__ void scale_kernel(int n, double scalar, const double* c, double* b) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) b[i] = scalar * c[i];
}

__global__ void add_kernel(int n, const double* a, const double* b, double* c) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

__global__ void triad_kernel(int n, double scalar, const double* b, const double* c, double* a) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) a[i] = b[i] + scalar * c[i];
}

void stream_run(int n, int reps, double scalar, double* a, double* b, double* c) {
  const size_t bytes = static_cast<size_t>(n) * sizeof(double);
  const int block = 32;
  const int grid = (n + block - 1) / block;

  for (int r = 0; r < reps; r++) {
    double *d_a, *d_b, *d_c;
    HIP_CHECK(hipMalloc(&d_a, bytes));
    HIP_CHECK(hipMalloc(&d_b, bytes));
    HIP_CHECK(hipMalloc(&d_c, bytes));
    HIP_CHECK(hipMemcpy(d_a, a, bytes, hipMemcpyHostToDevice));
    HIP_CHECK(hipMemcpy(d_b, b, bytes, hipMemcpyHostToDevice));
    HIP_CHECK(hipMemcpy(d_c, c, bytes, hipMemcpyHostToDevice));

    copy_kernel<<<grid, block>>>(n, d_a, d_c);
    HIP_CHECK(hipGetLastError());
    HIP_CHECK(hipDeviceSynchronize());
    scale_kernel<<<grid, block>>>(n, scalar, d_c, d_b);
    HIP_CHECK(hipGetLastError());
    HIP_CHECK(hipDeviceSynchronize());
    add_kernel<<<grid, block>>>(n, d_a, d_b, d_c);
    HIP_CHECK(hipGetLastError());
    HIP_CHECK(hipDeviceSynchronize());
    triad_kernel<<<grid, block>>>(n, scalar, d_b, d_c, d_a);
    HIP_CHECK(hipGetLastError());
    HIP_CHECK(hipDeviceSynchronize());

    HIP_CHECK(hipMemcpy(a, d_a, bytes, hipMemcpyDeviceToHost));
    HIP_CHECK(hipMemcpy(b, d_b, bytes, hipMemcpyDeviceToHost));
    HIP_CHECK(hipMemcpy(c, d_c, bytes, hipMemcpyDeviceToHost));
    HIP_CHECK(hipFree(d_a));
    HIP_CHECK(hipFree(d_b));
    HIP_CHECK(hipFree(d_c));
  }
}
