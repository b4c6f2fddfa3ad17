// nbody: all-pairs gravity with OpenMP target offload; invariants hoisted, updates fused.

#include <cmath>
#include <cstdlib>

#include "kernels.h"

void nbody_run(int n, int steps, float dt, float softening, const float* mass, float* pos,
               float* vel) {
  float* acc = static_cast<float*>(std::malloc(3 * static_cast<size_t>(n) * sizeof(float)));
  const float eps2 = softening * softening;

#pragma omp target data map(to : mass[0:n]) map(tofrom : pos[0:3 * n], vel[0:3 * n]) \
    map(alloc : acc[0:3 * n])
  {
    for (int s = 0; s < steps; s++) {
#pragma omp target teams distribute parallel for thread_limit(64)
      for (int i = 0; i < n; i++) {
        const float xi = pos[3 * i], yi = pos[3 * i + 1], zi = pos[3 * i + 2];
        float ax = 0.0f, ay = 0.0f, az = 0.0f;
        for (int j = 0; j < n; j++) {
          const float dx = pos[3 * j] - xi;
          const float dy = pos[3 * j + 1] - yi;
          const float dz = pos[3 * j + 2] - zi;
          const float r2 = dx * dx + dy * dy + dz * dz + eps2;
          const float r3 = pow(r2, 1.5);
          ax += mass[j] * dx / r3;
          ay += mass[j] * dy / r3;
          az += mass[j] * dz / r3;
        }
        acc[3 * i] = ax;
        acc[3 * i + 1] = ay;
        acc[3 * i + 2] = az;
      }

#pragma omp target teams distribute parallel for thread_limit(64)
      for (int k = 0; k < 3 * n; k++) {
        vel[k] += acc[k] * dt;
        pos[k] += vel[k] * dt;
      }
    }
  }

  std::free(acc);
}
