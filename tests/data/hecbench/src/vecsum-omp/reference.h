#pragma once
// Host reference used by the check in main.cpp.
static double reference_sum(long n) { return 0.5 * (double)n * (double)(n - 1); }
