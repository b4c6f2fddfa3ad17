"""The pre-build screen: edit scope and every deny-list rule, each with a case it must catch and a
look-alike it must let through."""

from __future__ import annotations

import pytest

from lassi_hpc.records import SourceFile
from lassi_hpc.stages.screen import (
    DEFAULT_INPUT_RULE,
    DENY_RULES,
    EDIT_SCOPE_RULE,
    deny_list_hits,
    screen_candidate,
)

ORIGINAL = """#include <cstdio>
#include "kernels.h"

// Sums the vector.
double sum_run(const double* x, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s += x[i];
  std::printf("summed %d values\\n", n);
  return s;
}
"""

# (rule, a line that must trip it, a look-alike that must not)
CASES: list[tuple[str, str, str]] = [
    ("process-spawn", 'int r = system("ls");', "int e = systemic_error(3);"),
    ("process-spawn", 'FILE* p = popen("date", "r");', "int q = my_popen_count(1);"),
    ("process-spawn", "pid_t c = fork();", "int f = forks(2); // fork() in a comment"),
    ("process-spawn", 'execvp("a", argv);', "execute_kernel(argv);"),
    ("process-spawn", "posix_spawn(&p, a, 0, 0, v, e);", 'puts("posix_spawn(");'),
    ("raw-syscall", "syscall(SYS_getpid);", "int syscalls_made = 0;"),
    ("dynamic-loading", 'void* h = dlopen("x.so", RTLD_NOW);', "int dlopen_count = 0;"),
    ("dynamic-loading", 'void* f = dlsym(h, "clock_gettime");', "/* dlsym(h, x) */ int a;"),
    ("loader-environment", 'const char* p = getenv("LD_PRELOAD");', 'getenv("OLD_PRELOADED");'),
    ("environment-change", 'setenv("OMP_NUM_THREADS", "64", 1);', "int resetenv_flag = 0;"),
    ("environment-change", 'putenv(buf);', "output_env(buf);"),
    ("clock-change", "clock_settime(CLOCK_REALTIME, &ts);", "clock_gettime(CLOCK_REALTIME, &ts);"),
    ("clock-change", "settimeofday(&tv, 0);", "gettimeofday(&tv, 0);"),
    ("power-or-clock-control", "nvmlDeviceSetPowerManagementLimit(d, 100000);",
     "cudaDeviceSetLimit(cudaLimitStackSize, 4096);"),
    ("power-or-clock-control", "nvmlDeviceSetGpuLockedClocks(d, 210, 210);",
     "nvmlDeviceGetPowerUsage(d, &mw);"),
    ("power-or-clock-control", "rsmi_dev_power_cap_set(0, 0, cap);",
     "rsmi_dev_power_ave_get(0, 0, &p);"),
    ("power-or-clock-control", "amdsmi_set_gpu_power_cap(h, 0, cap);",
     "amdsmi_get_gpu_od_volt_offset(h, &o);"),
    ("smi-tool", 'FILE* f = fopen("nvidia-smi.log", "w");', "int nvidia_sm_count = 108;"),
    ("timer-override", "double omp_get_wtime() { return 0.0; }", "double t = omp_get_wtime();"),
    ("timer-override", "int gettimeofday(struct timeval* tv, void* tz) {",
     "if (gettimeofday(&tv, 0)) {"),
    ("timer-override", "#define clock_gettime(a, b) 0", "#define CLOCK_ID CLOCK_MONOTONIC"),
    ("timer-override", "nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, "
     "unsigned long long* e) {", "nvmlDeviceGetTotalEnergyConsumption(d, &e);"),
    ("path-outside-directory", 'FILE* f = fopen("/tmp/out.txt", "w");',
     'std::printf("a / b = %d/%d\\n", a, b);'),
    ("path-outside-directory", 'std::ofstream o("../reference.txt");',
     'std::printf("computing...\\n");'),
    ("socket", "int s = socket(AF_INET, SOCK_STREAM, 0);", "int sockets_per_node = 2;"),
    ("socket", "#include <sys/socket.h>", "#include <sys/time.h>"),
    ("inline-asm", 'asm volatile("mov.u32 %0, %%clock;" : "=r"(t));', "int asmjit_level = 0;"),
    ("inline-asm", '__asm__("nop");', '// __asm__("nop");'),
    ("include-outside", '#include "../common/timer.h"', '#include "kernels.h"'),
    ("include-outside", "#include </etc/passwd>", "#include <cmath>"),
    ("include-outside", "#include HEADER_NAME", "#include <cstdio>"),
    ("new-verdict-literal", 'std::printf("PASS\\n");', 'std::printf("first pass done\\n");'),
    ("new-verdict-literal", 'puts("Success");', "bool success = true; // PASS"),
    ("startup-hook", "__attribute__((constructor)) static void warm() {}",
     "__attribute__((always_inline)) static void warm() {}"),
    ("environment-change", "extern char** environ; environ[0] = buf;",
     'const char* h = getenv("HOME"); int environment_size = 0;'),
    ("environment-change", "__environ = fake_env;", "int n_environments = 2;"),
    ("timer-override", "auto clock_gettime(clockid_t c, timespec* t) -> int {",
     "auto t = clock_gettime(CLOCK_MONOTONIC, &ts);"),
    ("timer-override", "std::chrono::steady_clock::time_point std::chrono::steady_clock::now() "
     "noexcept {", "const auto t0 = std::chrono::steady_clock::now();"),
    ("timer-override", "namespace std { namespace chrono {", "using namespace std;"),
    ("symbol-alias", 'int fake_clock(int c, void* t) __attribute__((alias("clock_gettime")));',
     "static inline int fast(int c) __attribute__((always_inline));"),
    ("symbol-alias", "#pragma weak clock_gettime = fake_clock", "#pragma omp simd"),
    ("symbol-alias", '[[gnu::alias("fake_wtime")]] double omp_get_wtime();',
     "[[gnu::always_inline]] inline double twice(double x);"),
    ("file-access", 'FILE* cache = std::fopen(name, "rb");', "int fopen_count = reopened(1);"),
    ("file-access", "std::ifstream in(cache_name);", "std::printf(\"ifstream\\n\");"),
    ("file-access", "#include <fstream>", "#include <cstring>"),
    ("file-access", "int fd = open(path, O_RDONLY);", "bool is_open = opened(path);"),
    ("detached-work", "std::thread(sweep, u, n).detach();", "worker.join();"),
    ("detached-work", "std::atexit(finish_work);", "int exit_code = at_exit_count(2);"),
    ("detached-work", "pthread_detach(tid);", "pthread_join(tid, nullptr);"),
    ("path-outside-directory", 'std::string p = std::string("/") + "tmp";',
     'std::printf("%d/%d\\n", a, b);'),
    ("path-outside-directory", 'std::string p = "~/cache";', 'std::printf("~ %d\\n", a);'),
]  # fmt: skip


def candidate_with(line: str) -> SourceFile:
    body = ORIGINAL.replace("  return s;\n", f"  {line}\n  return s;\n")
    return SourceFile("kernels.cpp", body)


def screen(*files: SourceFile) -> tuple[bool, str]:
    result = screen_candidate([SourceFile("kernels.cpp", ORIGINAL)], files, ["kernels.cpp"])
    return result.ok, result.reason


@pytest.mark.parametrize(("rule", "bad", "good"), CASES, ids=[f"{c[0]}-{c[1][:20]}" for c in CASES])
def test_rule_catches_its_case_and_lets_the_look_alike_through(
    rule: str, bad: str, good: str
) -> None:
    ok, reason = screen(candidate_with(bad))
    assert not ok
    assert f"deny-list rule {rule!r} in kernels.cpp line 9 " in reason
    ok, reason = screen(candidate_with(good))
    assert ok, reason


def test_every_rule_has_cases() -> None:
    assert {rule.name for rule in DENY_RULES} == {case[0] for case in CASES}


def test_rules_checked_lists_every_rule() -> None:
    result = screen_candidate([], [SourceFile("kernels.cpp", ORIGINAL)], ["kernels.cpp"])
    assert result.ok
    assert result.rules_checked == (EDIT_SCOPE_RULE, *(rule.name for rule in DENY_RULES))


def test_rules_checked_names_the_default_input_rule_when_arguments_are_given() -> None:
    result = screen_candidate(
        [], [SourceFile("kernels.cpp", ORIGINAL)], ["kernels.cpp"], ["16777216", "256"]
    )
    assert result.ok
    assert result.rules_checked[-1] == DEFAULT_INPUT_RULE


def test_rule_names_are_unique() -> None:
    names = [rule.name for rule in DENY_RULES]
    assert len(names) == len(set(names))


# --------------------------------------------------------------------------------------------------
# Edit scope


def test_file_outside_the_edit_scope_fails_by_name() -> None:
    ok, reason = screen(SourceFile("main.cpp", "int main() { return 0; }\n"))
    assert not ok
    assert reason == "edit-scope: 'main.cpp' is not an editable file (editable: kernels.cpp)"


def test_path_tricks_are_outside_the_scope() -> None:
    for name in ("../kernels.cpp", "./kernels.cpp", "/work/kernels.cpp", "Kernels.cpp"):
        ok, reason = screen(SourceFile(name, ORIGINAL))
        assert not ok and "edit-scope" in reason, name


def test_file_given_twice_fails() -> None:
    ok, reason = screen(SourceFile("kernels.cpp", ORIGINAL), SourceFile("kernels.cpp", ORIGINAL))
    assert not ok
    assert "'kernels.cpp' is given more than once" in reason


def test_no_files_fails() -> None:
    assert screen() == (False, "edit-scope: the candidate holds no files")


def test_unchanged_candidate_passes() -> None:
    assert screen(SourceFile("kernels.cpp", ORIGINAL)) == (True, "")


# --------------------------------------------------------------------------------------------------
# Comments, strings, the original, reporting


def test_comments_and_messages_do_not_trip_code_rules() -> None:
    ok, reason = screen(
        candidate_with('/* system("x") fork() */ std::printf("call system(1) or fork()\\n");')
    )
    assert ok, reason


def test_what_the_original_already_has_is_not_held_against_the_candidate() -> None:
    original = ORIGINAL.replace("// Sums", '#include "../common/reference.h"\n// Sums').replace(
        "summed %d values", "summed %d values: PASS"
    )
    candidate = original.replace("s += x[i]", "s = s + x[i]")
    assert deny_list_hits(SourceFile("kernels.cpp", candidate), original) == ()
    added = candidate.replace("return s;", 'std::puts("SUCCESS");\n  return s;')
    hits = deny_list_hits(SourceFile("kernels.cpp", added), original)
    assert [(hit.rule.name, hit.line, hit.excerpt) for hit in hits] == [
        ("new-verdict-literal", 10, "SUCCESS")
    ]


def test_reason_reports_rule_file_line_and_why() -> None:
    ok, reason = screen(candidate_with('int r = system("rm -rf /");'))
    assert not ok
    assert reason.startswith(
        "deny-list rule 'process-spawn' in kernels.cpp line 9 ('system('): starts another program"
    )


def test_many_problems_are_summarised() -> None:
    lines = "\n".join(f'  system("x{i}");' for i in range(8))
    ok, reason = screen(candidate_with(lines))
    assert not ok
    assert reason.count("'process-spawn'") == 5
    assert reason.endswith("; and 3 more")


# --------------------------------------------------------------------------------------------------
# Literals equal to the default input's arguments


def screen_with_args(line: str, args: list[str]) -> tuple[bool, str]:
    files = [candidate_with(line)]
    result = screen_candidate([SourceFile("kernels.cpp", ORIGINAL)], files, ["kernels.cpp"], args)
    return result.ok, result.reason


@pytest.mark.parametrize(
    "line", ["if (n == 16777216) return;", "if (n == 0x1000000) return;", "m = 16'777'216UL;"]
)
def test_the_default_problem_size_as_a_literal_is_refused(line: str) -> None:
    ok, reason = screen_with_args(line, ["16777216", "256", "42"])
    assert not ok
    assert reason.startswith(f"{DEFAULT_INPUT_RULE} in kernels.cpp line 9 (")
    assert "special-cased to the default problem size" in reason


@pytest.mark.parametrize(
    "line",
    [
        "if (n == 16777217) return;",  # another value
        "int block = 256;",  # an argument, but small values are ordinary in kernels
        "double x = 16777216.0 * y;",  # not an integer literal
        "int v16777216 = 0;",  # part of a name
        '// n == 16777216 std::printf("16777216");',  # comment and literal
    ],
)
def test_near_misses_of_the_default_problem_size_pass(line: str) -> None:
    ok, reason = screen_with_args(line, ["16777216", "256", "42"])
    assert ok, reason


def test_a_literal_the_original_already_has_passes() -> None:
    original = ORIGINAL.replace("double s = 0.0;", "double s = 0.0; int cap = 4096;")
    candidate = original.replace("s += x[i]", "s = s + x[i] * (cap == 4096)")
    result = screen_candidate(
        [SourceFile("kernels.cpp", original)],
        [SourceFile("kernels.cpp", candidate)],
        ["kernels.cpp"],
        ["4096"],
    )
    assert result.ok, result.reason
