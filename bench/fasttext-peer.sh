#!/usr/bin/env bash
# samplex vs fastText on the default WordNet split, same threads and dimension.
#
# Exports the split in fastText format, trains `fasttext supervised -thread T -dim 128` with
# -loss softmax, ns, hs and ova over a small grid of epochs and learning rates (training time
# measured with the shell's clock; P@1 from `fasttext test model.bin test.txt 1`), keeps the best
# of each loss; samplex (`samplex train xmc`, midx and full softmax) is trained first, with the
# same thread count, and prints one row per system: P@1, training seconds (without evaluation) and, for
# samplex, the training seconds at which it first reached fastText's best P@1. fastText's seconds
# are whole commands (reading the file, building the dictionary and saving the model included;
# the script prints an estimate of that fixed cost), samplex's leave out its setup (loading and
# featurizing the data, about 3 s on WordNet) and the per-epoch evaluations.
#
# Usage: bench/fasttext-peer.sh [WORKDIR]    (after `npm run build`)
# Environment: THREADS (2), EPOCHS_GRID ("5 25"), LR_GRID ("0.25 1.0"), FULL_GRID_LOSSES
# ("ns hs": losses that get the whole grid; softmax and ova, whose steps cost O(labels), get the
# first epoch count and the last learning rate only), SAMPLEX_EPOCHS (5), SAMPLEX_ARGS (extra options for samplex),
# SAMPLERS ("midx full"), LOSSES ("softmax ns hs ova"; on WordNet a 5-epoch softmax or ova run takes
# more than 20 minutes on 2 shared cores, so LOSSES="ns hs" gives a quick comparison).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d /tmp/samplex-peer.XXXXXX)}
THREADS=${THREADS:-2}
EPOCHS_GRID=${EPOCHS_GRID:-"5 25"}
LR_GRID=${LR_GRID:-"0.25 1.0"}
FULL_GRID_LOSSES=${FULL_GRID_LOSSES:-"ns hs"}
SAMPLEX_EPOCHS=${SAMPLEX_EPOCHS:-5}
SAMPLEX_ARGS=${SAMPLEX_ARGS:-}
SAMPLERS=${SAMPLERS:-"midx full"}
LOSSES=${LOSSES:-"softmax ns hs ova"}
command -v fasttext >/dev/null || { echo "fasttext not found (Debian package fasttext)" >&2; exit 1; }
mkdir -p "$WORK"
node dist/src/cli/main.js data export wordnet --format fasttext --out "$WORK/data" >&2
now() { date +%s.%N; }
for s in $SAMPLERS; do
  out="$WORK/samplex-$s"
  rm -rf "$out"
  # shellcheck disable=SC2086
  node dist/src/cli/main.js train xmc --sampler "$s" --threads "$THREADS" --epochs "$SAMPLEX_EPOCHS" --out "$out" --no-progress $SAMPLEX_ARGS >&2
done
results="$WORK/fasttext.tsv"
: > "$results"
first_epochs=${EPOCHS_GRID%% *}
for loss in $LOSSES; do
  epochs_list=$EPOCHS_GRID
  lr_list=$LR_GRID
  case " $FULL_GRID_LOSSES " in *" $loss "*) ;; *) epochs_list=$first_epochs; lr_list=${LR_GRID##* } ;; esac
  for ep in $epochs_list; do
    for lr in $lr_list; do
      model="$WORK/ft-$loss-$ep-$lr"
      t0=$(now)
      fasttext supervised -input "$WORK/data/train.txt" -output "$model" -thread "$THREADS" -dim 128 \
        -loss "$loss" -epoch "$ep" -lr "$lr" -verbose 0 >&2
      t1=$(now)
      p1=$(fasttext test "$model.bin" "$WORK/data/test.txt" 1 | awk '$1=="P@1"{print $2}')
      sec=$(echo "$t1 - $t0" | bc -l)
      printf 'fasttext\t%s\t%s\t%s\t%s\t%.1f\n' "$loss" "$ep" "$lr" "$p1" "$sec" | tee -a "$results" >&2
      rm -f "$model.bin" "$model.vec"
    done
  done
done
# fastText's fixed cost (reading the file, building the dictionary, saving the model): a
# one-epoch run minus one epoch's share of the best setting, reported next to its whole time
best=$(sort -t$'\t' -k5,5gr "$results" | head -1)
b_loss=$(echo "$best" | cut -f2)
b_ep=$(echo "$best" | cut -f3)
b_lr=$(echo "$best" | cut -f4)
b_sec=$(echo "$best" | cut -f6)
if [ "$b_ep" -gt 1 ]; then
  t0=$(now)
  fasttext supervised -input "$WORK/data/train.txt" -output "$WORK/ft-setup" -thread "$THREADS" -dim 128 \
    -loss "$b_loss" -epoch 1 -lr "$b_lr" -verbose 0 >&2
  t1=$(now)
  rm -f "$WORK/ft-setup.bin" "$WORK/ft-setup.vec"
  one=$(echo "$t1 - $t0" | bc -l)
  setup=$(echo "($b_ep * $one - $b_sec) / ($b_ep - 1)" | bc -l)
  printf '# fastText fixed cost (read, dictionary, save) ≈ %.1f s of each command (from a 1-epoch run: %.1f s)\n' "$setup" "$one"
fi

best_p1=$(echo "$best" | cut -f5)
echo "# system	setting	P@1	train s	s to reach fastText's best P@1 ($best_p1)"
for loss in $LOSSES; do
  row=$(awk -F'\t' -v l="$loss" '$2==l' "$results" | sort -t$'\t' -k5,5gr | head -1)
  [ -n "$row" ] || continue
  echo "$row" | awk -F'\t' '{printf "fasttext\t-loss %s -epoch %s -lr %s\t%s\t%s\t%s\n", $2, $3, $4, $5, $6, $6}'
done
for s in $SAMPLERS; do
  out="$WORK/samplex-$s"
  node -e '
    const fs = require("fs");
    const recs = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
    const target = Number(process.argv[2]);
    const best = recs.reduce((a, b) => (b.p1 > a.p1 ? b : a));
    const hit = recs.find((r) => r.p1 >= target);
    const last = recs[recs.length - 1];
    console.log(["samplex", `--sampler ${process.argv[3]} (${last.epoch} epochs, best at ${best.epoch})`, best.p1.toFixed(4), last.trainSec.toFixed(1), hit ? hit.trainSec.toFixed(1) : "not reached"].join("\t"));
  ' "$out/metrics.jsonl" "$best_p1" "$s"
done
