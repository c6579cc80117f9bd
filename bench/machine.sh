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

# A paragraph for a run that began on a busy machine (1-minute load above 0.5); $2 names what the
# benchmark's own processes were.
noisy_note() { # uptime-at-start what-competed
  local load
  load="$(sed 's/.*load average: \([0-9.]*\).*/\1/' <<<"$1")"
  awk -v l="$load" 'BEGIN { exit !(l > 0.5) }' || return 0
  echo
  echo "**Noisy machine:** the 1-minute load average was $load (above 0.5) before the benchmark started,"
  echo "so other work competed for the $(nproc) CPUs with $2. Treat the numbers as a floor, and compare"
  echo "the rows of the same run rather than across runs."
}
