// A 64-bin histogram in HeCBench style, HIP variant (written for lassi_hpc's tests).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <hip/hip_runtime.h>
#include "verify.h"

const int NBINS = 64;

__global__ void histogram(const unsigned* __restrict__ values, unsigned* bins, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) atomicAdd(&bins[values[i] % NBINS], 1u);
}

int main(int argc, char* argv[]) {
  if (argc != 3) {
    printf("Usage: %s <length> <repeat>\n", argv[0]);
    return 1;
  }
  const int n = atoi(argv[1]);
  const int repeat = atoi(argv[2]);
  std::vector<unsigned> values(n);
  unsigned state = 12345u;
  for (int i = 0; i < n; i++) {
    state = state * 1664525u + 1013904223u;
    values[i] = (state >> 16) + (unsigned)(i % 7);
  }
  unsigned *d_values, *d_bins;
  hipMalloc(&d_values, n * sizeof(unsigned));
  hipMalloc(&d_bins, NBINS * sizeof(unsigned));
  hipMemcpy(d_values, values.data(), n * sizeof(unsigned), hipMemcpyHostToDevice);

  hipDeviceSynchronize();
  auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repeat; r++) {
    hipMemset(d_bins, 0, NBINS * sizeof(unsigned));
    histogram<<<(n + 255) / 256, 256>>>(d_values, d_bins, n);
  }
  hipDeviceSynchronize();
  auto end = std::chrono::steady_clock::now();
  printf("Average kernel execution time: %f (us)\n",
         std::chrono::duration<double, std::micro>(end - start).count() / repeat);

  unsigned bins[NBINS];
  hipMemcpy(bins, d_bins, NBINS * sizeof(unsigned), hipMemcpyDeviceToHost);
  for (int b = 0; b < NBINS; b += 16) printf("bin %d: %u\n", b, bins[b]);
  const int errors = count_errors(values.data(), n, bins, NBINS);
  printf("Found %d errors\n", errors);
  printf("%s\n", errors == 0 ? "SUCCESS" : "FAILURE");
  hipFree(d_values);
  hipFree(d_bins);
  return 0;
}
