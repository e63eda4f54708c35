#!/usr/bin/env bash
# The reverse dictionary: samplex (`compare rdict`: full softmax, midx, uniform, unigram) and
# fastText (-loss hs, ns, softmax) on the same exported split, same dimension and threads.
#
# Exports the split (`samplex data export rdict --format fasttext`: train.txt, test.txt = the seen
# test definitions, test-unseen.txt), runs `samplex compare rdict` (accuracy@1/10/100 and median
# rank, exact over all headwords, seen and unseen), then trains fastText with each loss (training
# time = the whole `fasttext supervised` command, measured with the shell's clock; the softmax gets
# SOFTMAX_CAP seconds and is reported as not finished past it) and scores its top-100 predictions
# (`fasttext predict model.bin FILE 100`) with the same accuracy@k: the share of definitions whose
# best-ranked true headword is within the first k.
#
# fastText is Debian's `fasttext` package: the one on PATH, else `apt-get download fasttext
# libfasttext0` unpacked with `dpkg -x` into WORKDIR (no root needed).
#
# Usage: bench/rdict-peer.sh [WORKDIR]    (after `npm run build` and `samplex data fetch gcide`)
# Environment: THREADS (2), DIM (64), EPOCHS (2: samplex), FT_EPOCHS (5), FT_LR (0.5),
# LOSSES ("hs ns softmax"), SOFTMAX_CAP (1800 s), SAMPLERS ("full,midx,uniform,unigram"; none: fastText only),
# DATA_ARGS (extra data options for both, e.g. "--train-percent 20 --max-test 2000"),
# SAMPLEX_ARGS (extra training options for samplex).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d /tmp/samplex-rdict-peer.XXXXXX)}
THREADS=${THREADS:-2}
DIM=${DIM:-64}
EPOCHS=${EPOCHS:-2}
FT_EPOCHS=${FT_EPOCHS:-5}
FT_LR=${FT_LR:-0.5}
LOSSES=${LOSSES:-"hs ns softmax"}
SOFTMAX_CAP=${SOFTMAX_CAP:-1800}
SAMPLERS=${SAMPLERS:-"full,midx,uniform,unigram"}
DATA_ARGS=${DATA_ARGS:-}
SAMPLEX_ARGS=${SAMPLEX_ARGS:-}
mkdir -p "$WORK"

FT=$(command -v fasttext || true)
if [ -z "$FT" ]; then
  mkdir -p "$WORK/deb"
  (cd "$WORK/deb" && apt-get download fasttext libfasttext0 >&2) || { echo "fasttext is not installed and apt-get download fasttext failed" >&2; exit 1; }
  for d in "$WORK"/deb/*.deb; do dpkg -x "$d" "$WORK/deb/x"; done
  FT="$WORK/deb/x/usr/bin/fasttext"
  export LD_LIBRARY_PATH="$WORK/deb/x/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# shellcheck disable=SC2086
node dist/src/cli/main.js data export rdict --format fasttext --out "$WORK/data" $DATA_ARGS >&2
if [ "$SAMPLERS" != none ]; then
  # shellcheck disable=SC2086
  node dist/src/cli/main.js compare rdict --samplers "$SAMPLERS" --threads "$THREADS" --dim "$DIM" --epochs "$EPOCHS" \
    --out "$WORK/samplex" --no-progress $DATA_ARGS $SAMPLEX_ARGS | tee "$WORK/samplex.tsv" >&2
fi

now() { date +%s.%N; }
score() { # score PREDICTIONS GOLD: acc@1 acc@10 acc@100 over the gold file's lines
  node -e '
    const fs = require("fs");
    const pred = fs.readFileSync(process.argv[1], "utf8").split("\n");
    const gold = fs.readFileSync(process.argv[2], "utf8").split("\n").filter((l) => l !== "");
    const hit = [0, 0, 0];
    gold.forEach((g, i) => {
      const want = new Set(g.split(" ").filter((w) => w.startsWith("__label__")));
      const p = (pred[i] ?? "").split(" ");
      const r = p.findIndex((w) => want.has(w)) + 1;
      [1, 10, 100].forEach((k, j) => { if (r > 0 && r <= k) hit[j]++; });
    });
    console.log(hit.map((h) => (h / gold.length).toFixed(4)).join("\t"));
  ' "$1" "$2"
}
echo "# system	setting	seen acc@1	seen acc@10	seen acc@100	unseen acc@1	unseen acc@10	unseen acc@100	train s"
for loss in $LOSSES; do
  model="$WORK/ft-$loss"
  cap=0
  [ "$loss" = softmax ] && cap=$SOFTMAX_CAP
  t0=$(now)
  status=0
  if [ "$cap" -gt 0 ]; then
    timeout "$cap" "$FT" supervised -input "$WORK/data/train.txt" -output "$model" -thread "$THREADS" -dim "$DIM" \
      -loss "$loss" -epoch "$FT_EPOCHS" -lr "$FT_LR" -verbose 0 >&2 || status=$?
  else
    "$FT" supervised -input "$WORK/data/train.txt" -output "$model" -thread "$THREADS" -dim "$DIM" \
      -loss "$loss" -epoch "$FT_EPOCHS" -lr "$FT_LR" -verbose 0 >&2 || status=$?
  fi
  t1=$(now)
  sec=$(echo "$t1 - $t0" | bc -l)
  if [ "$status" -ne 0 ]; then
    printf 'fasttext\t-loss %s -epoch %s -lr %s\tdid not finish within %s s (status %s)\n' "$loss" "$FT_EPOCHS" "$FT_LR" "$cap" "$status"
    continue
  fi
  "$FT" predict "$model.bin" "$WORK/data/test.txt" 100 > "$WORK/pred-$loss-seen.txt"
  "$FT" predict "$model.bin" "$WORK/data/test-unseen.txt" 100 > "$WORK/pred-$loss-unseen.txt"
  seen=$(score "$WORK/pred-$loss-seen.txt" "$WORK/data/test.txt")
  unseen=$(score "$WORK/pred-$loss-unseen.txt" "$WORK/data/test-unseen.txt")
  printf 'fasttext\t-loss %s -epoch %s -lr %s\t%s\t%s\t%.1f\n' "$loss" "$FT_EPOCHS" "$FT_LR" "$seen" "$unseen" "$sec"
  rm -f "$model.bin" "$model.vec"
done
if [ "$SAMPLERS" != none ]; then
  echo "# samplex (compare rdict, $EPOCHS epochs, dim $DIM): $WORK/samplex.tsv"
  cat "$WORK/samplex.tsv"
fi
