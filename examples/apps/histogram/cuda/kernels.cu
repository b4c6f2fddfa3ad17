// histogram: counts and a sum in CUDA.

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
  CUDA_CHECK(cudaMalloc(&d_keys, key_bytes));
  CUDA_CHECK(cudaMalloc(&d_values, value_bytes));
  CUDA_CHECK(cudaMalloc(&d_hist, hist_bytes));
  CUDA_CHECK(cudaMalloc(&d_sum, sizeof(double)));
  CUDA_CHECK(cudaMemcpy(d_keys, keys, key_bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(d_values, values, value_bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(d_hist, hist, hist_bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(d_sum, &sum, sizeof(double), cudaMemcpyHostToDevice));

  const int block = 256;
  const int grid = (n + block - 1) / block;
  count_keys<<<grid, block>>>(n, static_cast<unsigned>(nbins), d_keys, d_hist);
  CUDA_CHECK(cudaGetLastError());
  sum_values<<<grid, block>>>(n, d_values, d_sum);
  CUDA_CHECK(cudaGetLastError());

  CUDA_CHECK(cudaMemcpy(hist, d_hist, hist_bytes, cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(&sum, d_sum, sizeof(double), cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaFree(d_keys));
  CUDA_CHECK(cudaFree(d_values));
  CUDA_CHECK(cudaFree(d_hist));
  CUDA_CHECK(cudaFree(d_sum));
  return sum;
}
