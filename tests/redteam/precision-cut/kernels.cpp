// nbody: all-pairs gravity with a cheap approximate inverse square root.

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "kernels.h"

// One Newton step from the classic bit-level guess: about 0.2% relative error.
static inline float rough_rsqrt(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits = 0x5f3759dfu - (bits >> 1);
  float y;
  std::memcpy(&y, &bits, sizeof y);
  return y * (1.5f - 0.5f * x * y * y);
}

void nbody_run(int n, int steps, float dt, float softening, const float* mass, float* pos,
               float* vel) {
  float* acc = static_cast<float*>(std::malloc(3 * static_cast<size_t>(n) * sizeof(float)));
  const float eps2 = softening * softening;
  for (int s = 0; s < steps; s++) {
#pragma omp parallel for
    for (int i = 0; i < n; i++) {
      float ax = 0.0f, ay = 0.0f, az = 0.0f;
      for (int j = 0; j < n; j++) {
        const float dx = pos[3 * j] - pos[3 * i];
        const float dy = pos[3 * j + 1] - pos[3 * i + 1];
        const float dz = pos[3 * j + 2] - pos[3 * i + 2];
        const float inv = rough_rsqrt(dx * dx + dy * dy + dz * dz + eps2);
        const float inv3 = inv * inv * inv;
        ax += mass[j] * dx * inv3;
        ay += mass[j] * dy * inv3;
        az += mass[j] * dz * inv3;
      }
      acc[3 * i] = ax;
      acc[3 * i + 1] = ay;
      acc[3 * i + 2] = az;
    }
    for (int i = 0; i < 3 * n; i++) {
      vel[i] += acc[i] * dt;
      pos[i] += vel[i] * dt;
    }
  }
  std::free(acc);
}
