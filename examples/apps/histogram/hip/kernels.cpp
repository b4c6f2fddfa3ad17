// histogram: counts and a sum in HIP.

#include "kernels.h"

__global__ void count_keys(int n, unsigned nbins, const uint32_t* keys, unsigned* hist) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    atomicAdd(&hist[key_bin(keys[i], nbins)], 1u);
  }
}

__global__ void sum_values(int n, const float* values, double* sum) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    atomicAdd(sum, static_cast<double>(values[i]));
  }
}

double histogram_run(int n, int nbins, const uint32_t* keys, const float* values, unsigned* hist) {
  for (int b = 0; b < nbins; b++) hist[b] = 0u;
  double sum = 0.0;

  uint32_t* d_keys;
  float* d_values;
  unsigned* d_hist;
  double* d_sum;
  const size_t key_bytes = static_cast<size_t>(n) * sizeof(uint32_t);
  const size_t value_bytes = static_cast<size_t>(n) * sizeof(float);
  const size_t hist_bytes = static_cast<size_t>(nbins) * sizeof(unsigned);
  HIP_CHECK(hipMalloc(&d_keys, key_bytes));
  HIP_CHECK(hipMalloc(&d_values, value_bytes));
  HIP_CHECK(hipMalloc(&d_hist, hist_bytes));
  HIP_CHECK(hipMalloc(&d_sum, sizeof(double)));
  HIP_CHECK(hipMemcpy(d_keys, keys, key_bytes, hipMemcpyHostToDevice));
  HIP_CHECK(hipMemcpy(d_values, values, value_bytes, hipMemcpyHostToDevice));
  HIP_CHECK(hipMemcpy(d_hist, hist, hist_bytes, hipMemcpyHostToDevice));
  HIP_CHECK(hipMemcpy(d_sum, &sum, sizeof(double), hipMemcpyHostToDevice));

  const int block = 256;
  const int grid = (n + block - 1) / block;
  count_keys<<<grid, block>>>(n, static_cast<unsigned>(nbins), d_keys, d_hist);
  HIP_CHECK(hipGetLastError());
  sum_values<<<grid, block>>>(n, d_values, d_sum);
  HIP_CHECK(hipGetLastError());

  HIP_CHECK(hipMemcpy(hist, d_hist, hist_bytes, hipMemcpyDeviceToHost));
  HIP_CHECK(hipMemcpy(&sum, d_sum, sizeof(double), hipMemcpyDeviceToHost));
  HIP_CHECK(hipFree(d_keys));
  HIP_CHECK(hipFree(d_values));
  HIP_CHECK(hipFree(d_hist));
  HIP_CHECK(hipFree(d_sum));
  return sum;
}
