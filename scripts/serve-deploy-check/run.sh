#!/usr/bin/env bash
# `serve deploy` of `autotask serve --write-config` to a Ray cluster started outside any autotask process
# (`ray start --head`, as `ray up` starts a head node), then scoring through it (check.py) and `ray stop`.
#   bash scripts/serve-deploy-check/run.sh RUN_DIR [NODES]
# NODES=2 starts a second node (`ray start --address`, as `ray up` starts a worker) and gives the head no CPUs, so
# the replicas must run on the worker node and read the run from storage both nodes share; check.py then also
# checks where the replicas run and that an onboarded profile is written beside the run.
# The check serves a copy of RUN_DIR (its onboarded profiles removed), so the run itself is left as it was.
# Loopback only: the cluster's dashboard and the service bind 127.0.0.1. Bounded: check.py sends at most 88 requests.
set -euo pipefail
NODES=${2:-1}
if [ "$NODES" != 1 ] && [ "$NODES" != 2 ]; then echo "NODES must be 1 or 2, got $NODES" >&2; exit 2; fi
WORK=$(mktemp -d)
cp -r "$(realpath "$1")" "$WORK/run" && rm -f "$WORK/run/serving/profiles.json"
RUN="$WORK/run"
export AUTOTASK_ADMIN_TOKEN="deploy-check-$RANDOM$RANDOM"
PORT=8123 DASHBOARD=8266 GCS=6391
HEAD_CPUS=2
if [ "$NODES" = 2 ]; then HEAD_CPUS=0; fi
trap '.venv/bin/ray stop --force > /dev/null 2>&1 || true' EXIT
.venv/bin/python runners/serve.py --run "$RUN" --port $PORT --replicas "$NODES" --write-config "$WORK/serve.yaml"
.venv/bin/ray start --head --num-cpus $HEAD_CPUS --port $GCS --node-ip-address 127.0.0.1 --dashboard-host 127.0.0.1 \
    --dashboard-port $DASHBOARD --include-dashboard true --disable-usage-stats > "$WORK/ray-start.log"
if [ "$NODES" = 2 ]; then
    RAY_AUTH_MODE=token .venv/bin/ray start --address 127.0.0.1:$GCS --num-cpus 2 --node-ip-address 127.0.0.1 \
        --disable-usage-stats >> "$WORK/ray-start.log"
fi
started=$(date +%s)
RAY_AUTH_MODE=token .venv/bin/serve deploy "$WORK/serve.yaml" -a http://127.0.0.1:$DASHBOARD
for _ in $(seq 90); do
    if curl -sf http://127.0.0.1:$PORT/-/healthz > /dev/null; then break; fi
    sleep 2
done
echo "ready $(( $(date +%s) - started )) s after serve deploy"
RAY_AUTH_MODE=token .venv/bin/serve status -a http://127.0.0.1:$DASHBOARD | grep -E "status|message" | head -6
RAY_AUTH_MODE=token .venv/bin/python scripts/serve-deploy-check/check.py --run "$RUN" --url http://127.0.0.1:$PORT \
    --token "$AUTOTASK_ADMIN_TOKEN" --nodes "$NODES" --address 127.0.0.1:$GCS
