#pragma once
// Window bounds of the envelope (included by reference.h). Written for lassi_hpc's tests.
#define ENVELOPE_RADIUS 4

static inline int window_begin(int i) { return i - ENVELOPE_RADIUS < 0 ? 0 : i - ENVELOPE_RADIUS; }
static inline int window_end(int i, int n) {
  return i + ENVELOPE_RADIUS > n - 1 ? n - 1 : i + ENVELOPE_RADIUS;
}
