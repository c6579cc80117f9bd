#!/usr/bin/env bash
# The machine lines every benchmark result starts with; sourced by the bench scripts.

machine_lines() {
  local model
  model="$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)"
  echo "- CPUs (nproc): $(nproc)"
  echo "- CPU model: ${model:-unknown}"
  echo "- Memory total (free -g): $(free -g | awk '/^Mem:/ { print $2 }') GiB"
  echo "- Kernel: $(uname -r)"
}
