#!/usr/bin/env bash
# A Tandem cluster of three processes on 127.0.0.1, for trying the cluster as a user would:
#   orchestrator (sessions + HTTP API), small (small-model worker), large (large-model worker).
#
#   ops/cluster/local.sh up       start the three nodes, wait until the HTTP API answers
#   ops/cluster/local.sh status   show each node: pid, alive or not, ports, log
#   ops/cluster/local.sh down     stop them (SIGTERM: each leaves the cluster; SIGKILL after 30 s)
#
# Logs and pid files live in $TANDEM_CLUSTER_DIR (default .tandem/cluster/ in the repository).
# Models: $TANDEM_SMALL and $TANDEM_LARGE (a checkpoint folder, scripted:PATH or
# simulated:PATH?latency=PROFILE); by default the scripted demo models in ops/cluster/demo/.
#
# What it runs (the serve command must accept exactly these):
#   tandem serve --roles orchestrator --cluster-port P0 --port H                   (founds the cluster)
#   tandem serve --roles small --cluster-port P1 --seed-nodes 127.0.0.1:P0 --small MODEL
#   tandem serve --roles large --cluster-port P2 --seed-nodes 127.0.0.1:P0 --large MODEL
# (--roles, --cluster-port and --seed-nodes are io.tandem.ops.cluster.NodeOptions; --port is the
# HTTP port; a node needs a model only for the worker roles it plays), and answer
# GET http://127.0.0.1:H/health/ready with 200 once it can take requests.
# ops/cluster/serve-integration.patch is that change to the HTTP branch's ServeCommand (mix in
# NodeOptions, start only this node's roles, HTTP only on the orchestrator); with it,
# LocalClusterScriptTest passed on a merge of the two branches.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="${TANDEM_CLUSTER_DIR:-$repo/.tandem/cluster}"
port="${TANDEM_CLUSTER_PORT:-25520}"
http="${TANDEM_HTTP_PORT:-8080}"
small="${TANDEM_SMALL:-scripted:$here/demo/small.json}"
large="${TANDEM_LARGE:-scripted:$here/demo/large.json}"
export TANDEM_JAVA_OPTS="${TANDEM_JAVA_OPTS:--Xmx1g}"
nodes=(orchestrator small large)

node_args() {
  case "$1" in
    orchestrator) echo "--roles orchestrator --cluster-port $port --port $http" ;;
    small) echo "--roles small --cluster-port $((port + 1)) --seed-nodes 127.0.0.1:$port --small $small" ;;
    large) echo "--roles large --cluster-port $((port + 2)) --seed-nodes 127.0.0.1:$port --large $large" ;;
  esac
}

alive() { [ -f "$dir/$1.pid" ] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }

up() {
  mkdir -p "$dir"
  for n in "${nodes[@]}"; do
    if alive "$n"; then echo "local.sh: $n is already running (pid $(cat "$dir/$n.pid"))"; continue; fi
    # shellcheck disable=SC2046
    nohup "$repo/tandem" serve $(node_args "$n") >"$dir/$n.log" 2>&1 &
    echo $! >"$dir/$n.pid"
    echo "local.sh: started $n (pid $!), log $dir/$n.log"
  done
  local deadline=$((SECONDS + ${TANDEM_UP_TIMEOUT:-120}))
  until curl -fsS "http://127.0.0.1:$http/health/ready" >/dev/null 2>&1; do
    for n in "${nodes[@]}"; do
      if ! alive "$n"; then
        echo "local.sh: $n exited; the end of its log:" >&2; tail -20 "$dir/$n.log" >&2; down; exit 1
      fi
    done
    if [ $SECONDS -ge $deadline ]; then
      echo "local.sh: the HTTP API on 127.0.0.1:$http did not answer within ${TANDEM_UP_TIMEOUT:-120} s" >&2; exit 1
    fi
    sleep 0.5
  done
  echo "local.sh: cluster up; HTTP API on http://127.0.0.1:$http"
}

down() {
  for n in large small orchestrator; do
    [ -f "$dir/$n.pid" ] || continue
    pid="$(cat "$dir/$n.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; echo "local.sh: $n (pid $pid) killed"; else echo "local.sh: $n (pid $pid) stopped"; fi
    fi
    rm -f "$dir/$n.pid"
  done
}

status() {
  local running=0
  for n in "${nodes[@]}"; do
    if alive "$n"; then
      running=$((running + 1)); echo "$n: running (pid $(cat "$dir/$n.pid")) $(node_args "$n" | sed 's/--small .*//;s/--large .*//'); log $dir/$n.log"
    else
      echo "$n: not running"
    fi
  done
  if curl -fsS "http://127.0.0.1:$http/health/ready" >/dev/null 2>&1; then echo "http: http://127.0.0.1:$http answers"; else echo "http: 127.0.0.1:$http not answering"; fi
  [ "$running" -eq ${#nodes[@]} ]
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
