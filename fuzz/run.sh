#!/usr/bin/env bash
# Fuzzes one target of Traffic.Fuzz with afl-fuzz for a while, then replays what it found (docs/fuzzing.md).
#   fuzz/run.sh <target> [seconds] [workdir]      e.g. fuzz/run.sh jt808-stream 600
# Needs afl++ (apt-get install afl++) and SharpFuzz's instrumenter (dotnet tool install --global SharpFuzz.CommandLine).
# The build, its instrumented copy, the seeds and afl-fuzz's findings go to the work folder (default /tmp/traffic-fuzz),
# never into the repository. Exit status 1 when afl-fuzz saved a crash or a hang that the replay confirms.
set -euo pipefail

target=${1:?usage: fuzz/run.sh <target> [seconds] [workdir]}
seconds=${2:-600}
work=${3:-/tmp/traffic-fuzz}
repo=$(cd "$(dirname "$0")/.." && pwd)
export TRAFFIC_SHARED_DATA=${TRAFFIC_SHARED_DATA:-$repo/../shared/data}
export PATH="$PATH:$HOME/.dotnet/tools"

bin=$work/bin        # instrumented: runs under afl-fuzz only (its coverage probes write to afl-fuzz's shared memory)
plain=$work/plain    # the same build as it is: seeds and replays
if [ ! -f "$bin/.instrumented" ]; then
  # One instrumented copy of the build for every target: the project's own assemblies carry afl-fuzz's coverage
  # probes; the runtime and the libraries do not (their branches are not ours to explore).
  rm -rf "$bin" "$plain"
  dotnet build "$repo/fuzz/Traffic.Fuzz" -c Release -o "$plain" -v quiet -nologo
  cp -r "$plain" "$bin"
  for dll in Traffic.Geo.dll Traffic.Engine.dll Traffic.Connectors.dll; do sharpfuzz "$bin/$dll"; done
  touch "$bin/.instrumented"
fi
[ -d "$work/seeds" ] || dotnet "$plain/Traffic.Fuzz.dll" --seeds "$work/seeds"

out=$work/findings/$target
mkdir -p "$out"
# The seeds the first time, afl-fuzz's own queue when run again on the same folder.
input=$work/seeds/$target
[ -d "$out/default/queue" ] && input=-
export AFL_SKIP_BIN_CHECK=1              # the dotnet host carries no instrumentation; SharpFuzz reports the coverage
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
export AFL_NO_AFFINITY=${AFL_NO_AFFINITY:-}
afl-fuzz -i "$input" -o "$out" -V "$seconds" -t 10000 -m none -- dotnet "$bin/Traffic.Fuzz.dll" "$target" > "$out/afl.log" 2>&1 || true
grep -E "execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg" "$out/default/fuzzer_stats" || true

# What afl-fuzz saved, replayed without it: the finding's exception and stack, or nothing when it does not reproduce.
status=0
for kind in crashes hangs; do
  dir=$out/default/$kind
  if compgen -G "$dir/id:*" > /dev/null; then
    echo "== $kind"
    timeout 300 dotnet "$plain/Traffic.Fuzz.dll" "$target" "$dir" || status=1
  fi
done
exit $status
