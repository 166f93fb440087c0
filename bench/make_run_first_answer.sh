#!/usr/bin/env bash
# Times `make run` from a clean clone of this repo to the first answered recommendation request.
# Usage: bench/make_run_first_answer.sh [REPO] (default: this checkout); PM_PORT picks the port.
set -u
d=$(mktemp -d /tmp/runclone.XXXX)
git clone -q "${1:-$(git -C "$(dirname "$0")" rev-parse --show-toplevel)}" "$d"
cd "$d"
start=$(date +%s)
PM_PORT=${PM_PORT:-8099} make run > "$d/run.log" 2>&1 &
pid=$!
body='{"opportunity": {"region": "emea-north", "required_skills": ["aws cloud migration"], "description": "Bank wants to exit its datacentre to AWS"}, "k": 3}'
while kill -0 $pid 2>/dev/null; do
  PM_KEY=$(grep -oE 'pm_[A-Za-z0-9_-]{20,}' "$d/run.log" | head -1)
  code=$(curl -s -o "$d/answer.json" -w '%{http_code}' -X POST "http://127.0.0.1:${PM_PORT:-8099}/v1/recommendations" -H 'Content-Type: application/json' ${PM_KEY:+-H "X-API-Key: $PM_KEY"} -d "$body")
  if [ "$code" = "200" ]; then
    end=$(date +%s); echo "first answer after $((end-start)) s"; head -c 400 "$d/answer.json"; echo; break
  fi
  sleep 2
done
grep -E "real|installed|Successfully" "$d/run.log" | head -5
pkill -f "partnermatch serve" -P $pid 2>/dev/null; kill -- -$pid 2>/dev/null; pkill -f "$d/.venv/bin/partnermatch" ; sleep 1
echo "clone: $d"
