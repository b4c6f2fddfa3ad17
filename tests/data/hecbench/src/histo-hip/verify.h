#pragma once
// Host check of the histogram (verification code: not editable by an LLM).
#include <vector>
static int count_errors(const unsigned* values, int n, const unsigned* bins, int nbins) {
  std::vector<unsigned> expected(nbins, 0);
  for (int i = 0; i < n; i++) expected[values[i] % nbins]++;
  int errors = 0;
  for (int b = 0; b < nbins; b++) errors += expected[b] != bins[b];
  return errors;
}
