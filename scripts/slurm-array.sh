#!/usr/bin/env bash
# A Slurm job array over the builds of one config: task I of N runs --shard I/N into its
# own folder; merge the folders when all are done.
#   sbatch --array=0-7 scripts/slurm-array.sh experiments/configs/factorial.yaml 8
#   build/experiments/hamster merge shards/*/NAME --out results/NAME
#SBATCH --job-name=hamster
#SBATCH --cpus-per-task=2
#SBATCH --time=04:00:00
set -euo pipefail
config=$1 shards=$2
task=${SLURM_ARRAY_TASK_ID:?run this with sbatch --array=0-$((shards - 1))}
mkdir -p "shards/$task"
# Each task writes under shards/<task>/: the config's own output folder is not shared.
sed "s|^output:.*||" "$config" > "shards/$task/config.yaml"
echo "output: shards/$task" >> "shards/$task/config.yaml"
exec build/experiments/hamster run "shards/$task/config.yaml" --shard "$task/$shards"
