#!/usr/bin/env bash
# Installs the system packages lassi_hpc's tests and demo use, where they are missing:
# a C++ compiler with OpenMP (g++, make), bubblewrap (sandbox), hipcc (HIP compile checks).
# nvcc comes with the CUDA toolkit and is not installed here. Needs root or sudo; without either
# it prints what is missing and carries on (the tests that need a missing tool skip, except in CI).
set -euo pipefail

need=()
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v hipcc >/dev/null || need+=(hipcc)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "install-system-deps: missing ${need[*]} and no root/sudo: install them yourself" >&2
  exit 0
fi
echo "install-system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
