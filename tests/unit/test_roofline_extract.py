"""Kernel extraction from small CUDA and OpenMP sources written here."""

from __future__ import annotations

from pathlib import Path

import pytest

from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.extract import extract_kernels, extract_kernels_from_file

CUDA = r"""#include <cstdio>
#define KERNEL __global__ void macro_kernel() {}
// __global__ void in_a_comment(int* a) { a[0] = 1; }
template <typename T>
__global__ void __launch_bounds__(256) saxpy(T a, const T* x, T* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) { y[i] = a * x[i] + y[i]; /* a } in a comment */ }
}

__global__ void declared_only(float*);

__global__ void braces_in_strings(char* out) {
  const char* text = "}{";
  out[0] = '}';
}

int main() { printf("__global__ void fake() {}\n"); return 0; }
"""

OMP = r"""#include <omp.h>
void scale(float* a, int n) {
  #pragma omp target data map(tofrom: a[0:n])
  {
    #pragma omp target teams distribute parallel for
    for (int i = 0; i < n; i++)
      a[i] *= 2.0f;
    #pragma omp target update from(a[0:n])
  }
}

void add(float* a, const float* b, int n) {
  #pragma omp target teams distribute \
      parallel for map(to: b[0:n])
  for (int i = 0; i < n; i++) {
    if (i % 2) a[i] += b[i]; else a[i] -= b[i];
  }
  #pragma omp target
  {
    #pragma omp loop
    for (int i = 0; i < n; i++) a[i] = 0;
  }
}
"""


def test_cuda_kernels_are_whole_global_functions() -> None:
    kernels = extract_kernels(CUDA, "k.cu")
    assert [k.name for k in kernels] == ["saxpy", "braces_in_strings"]
    saxpy = kernels[0]
    assert saxpy.language == "cuda"
    assert saxpy.line == 4  # the template line above it
    assert saxpy.source.startswith("template <typename T>\n__global__")
    assert saxpy.source.endswith("y[i]; /* a } in a comment */ }\n}")
    assert kernels[1].source.endswith("out[0] = '}';\n}")


def test_omp_target_regions_with_their_statement() -> None:
    regions = extract_kernels(OMP, "k.cpp")
    assert [r.name for r in regions] == ["scale:omp_target1", "add:omp_target1", "add:omp_target2"]
    assert all(r.language == "omp" for r in regions)
    assert regions[0].source.strip().endswith("a[i] *= 2.0f;")
    assert "target data" not in regions[0].source
    assert regions[1].source.rstrip().endswith("a[i] -= b[i];\n  }")  # continued pragma, block
    assert "#pragma omp loop" in regions[2].source
    assert regions[2].line == 18


def test_from_file_and_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "k.cu"
    path.write_text(CUDA)
    assert [k.file for k in extract_kernels_from_file(path)] == [str(path)] * 2
    with pytest.raises(RooflineError, match="cannot read source"):
        extract_kernels_from_file(tmp_path / "missing.cu")


def test_an_unclosed_kernel_body_names_the_line() -> None:
    with pytest.raises(RooflineError, match=r"k.cu:1: kernel body never closes"):
        extract_kernels("__global__ void k(int* a) { a[0] = 1;\n", "k.cu")
