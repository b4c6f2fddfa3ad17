#!/usr/bin/env bash
# On a lent GPU machine (the device tool's `run`), gathers what docs/validation.md needs, in two
# calls that each fit the tool's 10-minute limit:
#   bash scripts/gpu-validation.sh energy    # lassi-hpc measure, linearity, sensor period, sampler
#   bash scripts/gpu-validation.sh profile   # ncu on the cuda examples, labels
# Results go to $OUT/<phase>.tar.gz (the tool brings back at most 8 files) and the summary is
# printed. The machine's python3 has numpy, h5py, matplotlib, psutil and nvidia-ml-py; lassi_hpc
# runs from the checkout (PYTHONPATH), and neither phase needs Parsl.
set -uo pipefail
phase=${1:?usage: gpu-validation.sh energy|profile [gpu_validation options...]}
shift
out=${OUT:-/tmp/lassi-gpu}
work="$out/$phase"
mkdir -p "$work"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,uuid,driver_version,power.limit,clocks.max.sm --format=csv \
    | tee "$work/nvidia-smi.csv"
# What lassi_hpc finds here: energy backend, sandbox layers, profilers and ncu's counter access.
python3 -m lassi_hpc.cli env 2>&1 | tee "$work/lassi-hpc-env.txt"
case $phase in
energy)
    python3 -m benchmarks.gpu_validation --out "$work" --steps measure linearity sensor "$@" \
        2>&1 | tee "$work/gpu_validation.log"
    python3 -m benchmarks.bench_sampler --json "$work/sampler.json" 2>&1 \
        | tee "$work/bench_sampler.log"
    ;;
profile)
    python3 -m benchmarks.gpu_validation --out "$work" --steps ncu "$@" \
        2>&1 | tee "$work/gpu_validation.log"
    ;;
*)
    echo "unknown phase $phase: energy or profile" >&2
    exit 2
    ;;
esac
rm -rf "$work/build"
tar -czf "$out/$phase.tar.gz" -C "$out" "$phase"
ls -la "$out"
