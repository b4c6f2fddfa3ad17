"""The small C-family lexer: masking comments and literals, listing top-level functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from lassi_hpc.stages.c_source import line_of, mask_source, top_level_functions

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "apps"


def test_masked_views_keep_length_and_lines() -> None:
    text = 'int a; // system("x")\nconst char* s = "fork()"; /* popen\n */ int b;\n'
    masked = mask_source(text)
    assert len(masked.code) == len(text) == len(masked.code_and_strings)
    assert masked.code.count("\n") == text.count("\n")
    assert "system" not in masked.code and "popen" not in masked.code
    assert "fork" not in masked.code and '"' in masked.code
    assert '"fork()"' in masked.code_and_strings and "system" not in masked.code_and_strings
    assert [(s.line, s.content) for s in masked.strings] == [(2, "fork()")]


def test_escapes_raw_strings_and_character_literals() -> None:
    text = 'a("x\\"y"); b(R"d(q"s)d"); c(\'"\'); d(1\'000\'000); e(u8R"(z)"); f(L"w");\n'
    masked = mask_source(text)
    assert [s.content for s in masked.strings] == ['x\\"y', 'q"s', "z", "w"]
    assert "1'000'000" in masked.code
    assert "'" + " " + "'" in masked.code  # the quote character inside '"' is blanked


def test_unterminated_literal_stops_at_the_line_end() -> None:
    masked = mask_source('puts("abc\nint x;\n')
    assert "int x;" in masked.code
    assert [s.content for s in masked.strings] == ["abc"]


def test_line_continuation_extends_a_line_comment() -> None:
    masked = mask_source("// a \\\nsystem(1);\nint y;\n")
    assert "system" not in masked.code and "int y;" in masked.code


def test_line_of() -> None:
    assert [line_of("a\nb\nc", i) for i in (0, 2, 4)] == [1, 2, 3]


def test_top_level_functions_skip_prototypes_methods_macros_and_calls() -> None:
    text = """
#define SQUARE(x) { return (x) * (x); }
int declared(int a);
namespace detail {
inline float helper(float x) noexcept { return x; }
}
extern "C" {
void c_entry(void) { helper(1.0f); }
}
struct Grid {
  int size() const { return n; }
  int n;
};
template <typename T>
T pick(T a, T b) {
  if (a < b) { return a; }
  auto f = [](int z) { return z; };
  return b;
}
__global__ void __launch_bounds__(256) kernel(float* __restrict__ out, int n) {
  out[0] = n;
}
auto trailing(int a) -> int { return a; }
"""
    assert top_level_functions(text) == ("helper", "c_entry", "pick", "kernel", "trailing")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("stencil2d/omp/kernels.cpp", ("stencil_run",)),
        ("stencil2d/cuda/kernels.cu", ("jacobi_sweep", "copy_grid", "stencil_run")),
    ],
)
def test_bundled_kernels(path: str, expected: tuple[str, ...]) -> None:
    assert top_level_functions((EXAMPLES / path).read_text()) == expected
