// A three-point stencil in HeCBench style (written for lassi_hpc's tests): results, no verdict.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <cuda.h>

__global__ void stencil(const float* __restrict__ in, float* __restrict__ out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float left = i > 0 ? in[i - 1] : 0.0f;
  const float right = i < n - 1 ? in[i + 1] : 0.0f;
  out[i] = 0.25f * left + 0.5f * in[i] + 0.25f * right;
}

int main(int argc, char* argv[]) {
  if (argc != 3) {
    printf("Usage: %s <length> <repeat>\n", argv[0]);
    return 1;
  }
  const int n = atoi(argv[1]);
  const int repeat = atoi(argv[2]);
  std::vector<float> in(n), out(n);
  for (int i = 0; i < n; i++) in[i] = (float)((i * 7) % 13) / 13.0f;
  float *d_in, *d_out;
  cudaMalloc(&d_in, n * sizeof(float));
  cudaMalloc(&d_out, n * sizeof(float));
  cudaMemcpy(d_in, in.data(), n * sizeof(float), cudaMemcpyHostToDevice);

  cudaDeviceSynchronize();
  auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < repeat; r++) stencil<<<(n + 255) / 256, 256>>>(d_in, d_out, n);
  cudaDeviceSynchronize();
  auto end = std::chrono::steady_clock::now();
  printf("Average kernel execution time: %f (us)\n",
         std::chrono::duration<double, std::micro>(end - start).count() / repeat);

  cudaMemcpy(out.data(), d_out, n * sizeof(float), cudaMemcpyDeviceToHost);
  double checksum = 0.0;
  for (int i = 0; i < n; i++) checksum += out[i];
  printf("checksum = %.6f\n", checksum);
  const int step = n / 4 > 0 ? n / 4 : 1;
  for (int i = 0; i < n; i += step) printf("out[%d] = %.6f\n", i, out[i]);
  cudaFree(d_in);
  cudaFree(d_out);
  return 0;
}
