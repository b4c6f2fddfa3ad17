// A three-point stencil in HeCBench style (written for lassi_hpc's tests): results, no verdict.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char* argv[]) {
  if (argc != 3) {
    printf("Usage: %s <length> <repeat>\n", argv[0]);
    return 1;
  }
  const int n = atoi(argv[1]);
  const int repeat = atoi(argv[2]);
  std::vector<float> in(n), out(n);
  for (int i = 0; i < n; i++) in[i] = (float)((i * 7) % 13) / 13.0f;
  const float* pin = in.data();
  float* pout = out.data();

  auto start = std::chrono::steady_clock::now();
  #pragma omp target data map(to: pin[0:n]) map(from: pout[0:n])
  {
    for (int r = 0; r < repeat; r++) {
      #pragma omp target teams distribute parallel for
      for (int i = 0; i < n; i++) {
        const float left = i > 0 ? pin[i - 1] : 0.0f;
        const float right = i < n - 1 ? pin[i + 1] : 0.0f;
        pout[i] = 0.25f * left + 0.5f * pin[i] + 0.25f * right;
      }
    }
  }
  auto end = std::chrono::steady_clock::now();
  printf("Average kernel execution time: %f (us)\n",
         std::chrono::duration<double, std::micro>(end - start).count() / repeat);

  double checksum = 0.0;
  for (int i = 0; i < n; i++) checksum += out[i];
  printf("checksum = %.6f\n", checksum);
  const int step = n / 4 > 0 ? n / 4 : 1;
  for (int i = 0; i < n; i += step) printf("out[%d] = %.6f\n", i, out[i]);
  return 0;
}
