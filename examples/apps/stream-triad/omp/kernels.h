// stream-triad: the entry point of the part a refactoring may change (kernels.cpp).
#pragma once

// Runs `reps` repetitions of the four STREAM kernels, in this order, over arrays of n doubles:
//   copy: c = a;  scale: b = s * c;  add: c = a + b;  triad: a = b + s * c.
// a, b and c are read as the starting state and hold the final state on return.
void stream_run(int n, int reps, double scalar, double* a, double* b, double* c);
