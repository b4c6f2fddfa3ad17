"""The labelling rule of seed paper B: a kernel is bandwidth-bound iff its arithmetic intensity is
below the GPU's balance point in every precision (SP, DP and INT); otherwise compute-bound."""

from __future__ import annotations

from lassi_hpc.roofline.errors import RooflineError
from lassi_hpc.roofline.records import BalancePoints, Boundedness, KernelLabel, KernelProfile

NO_TRAFFIC_REASON = "no DRAM traffic measured: all data served from caches, counted compute-bound"


def arithmetic_intensity(ops: int, dram_bytes: int) -> float:
    """ops / dram_bytes (op/byte); 0 for no work, +inf for work without traffic."""
    if ops < 0 or dram_bytes < 0:
        raise RooflineError(f"negative count: {ops} ops over {dram_bytes} bytes")
    if ops == 0:
        return 0.0
    if dram_bytes == 0:
        return float("inf")
    return ops / dram_bytes


def label_profile(
    profile: KernelProfile, balance: BalancePoints, ceilings_source: str
) -> KernelLabel:
    """The class of one profiled invocation against `balance` (op/byte).

    Zero DRAM bytes makes the kernel compute-bound with a reason saying so (nothing was waited
    for in memory); zero work in a precision gives intensity 0 there.
    """
    if profile.dram_bytes < 0 or min(profile.sp_ops, profile.dp_ops, profile.int_ops) < 0:
        raise RooflineError(f"kernel {profile.kernel!r}: negative counts in its profile")
    sp = arithmetic_intensity(profile.sp_ops, profile.dram_bytes)
    dp = arithmetic_intensity(profile.dp_ops, profile.dram_bytes)
    integer = arithmetic_intensity(profile.int_ops, profile.dram_bytes)
    reason = ""
    label: Boundedness
    if profile.dram_bytes == 0:
        label, reason = "Compute", NO_TRAFFIC_REASON
    elif (
        sp < balance.sp_op_per_byte
        and dp < balance.dp_op_per_byte
        and integer < balance.int_op_per_byte
    ):
        label = "Bandwidth"
    else:
        label = "Compute"
    return KernelLabel(
        kernel=profile.kernel,
        invocation=profile.invocation,
        sp_ai_op_per_byte=sp,
        dp_ai_op_per_byte=dp,
        int_ai_op_per_byte=integer,
        label=label,
        balance=balance,
        ceilings_source=ceilings_source,
        reason=reason,
    )


def fastest_invocations(profiles: list[KernelProfile], first: int = 2) -> list[KernelProfile]:
    """Per kernel name, the fastest of its first `first` invocations, in first-seen order.

    Seed paper B profiles the first two invocations of each kernel and keeps the faster: the
    first launch often pays cold caches and lazy module loading.
    """
    if first < 1:
        raise RooflineError(f"first must be at least 1, got {first}")
    by_kernel: dict[str, list[KernelProfile]] = {}
    for profile in sorted(profiles, key=lambda p: p.invocation):
        by_kernel.setdefault(profile.kernel, []).append(profile)
    order = list(dict.fromkeys(p.kernel for p in profiles))
    return [min(by_kernel[name][:first], key=lambda p: p.duration_s) for name in order]


def profile_text(profile: KernelProfile, label: KernelLabel) -> str:
    """The measured metrics of one invocation, as shown to a model in the `profile` scenario."""
    return (
        f"duration {profile.duration_s * 1e6:.2f} us, DRAM traffic {profile.dram_bytes} bytes, "
        f"SP ops {profile.sp_ops}, DP ops {profile.dp_ops}, INT ops {profile.int_ops}; arithmetic "
        f"intensity SP {label.sp_ai_op_per_byte:.3g}, DP {label.dp_ai_op_per_byte:.3g}, INT "
        f"{label.int_ai_op_per_byte:.3g} op/byte"
    )
