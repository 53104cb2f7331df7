#!/usr/bin/env bash
# A Tandem cluster of local processes on 127.0.0.1, for trying the cluster as a user would.
# `ops/cluster/local.sh --help` prints the usage below.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail
# This script's folder, through any symbolic links to the script.
self="${BASH_SOURCE[0]}"
while [ -L "$self" ]; do
  link="$(readlink "$self")"
  case "$link" in /*) self="$link" ;; *) self="$(dirname "$self")/$link" ;; esac
done
here="$(cd "$(dirname "$self")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

usage() {
  cat <<EOF
Usage: ops/cluster/local.sh up|status|down|restart NODE|--help

A Tandem cluster on 127.0.0.1, one \`tandem serve\` process per node:
  orchestrator   sessions and the HTTP API (OpenAI API, playground at /)
  small, large   a worker with the small / large model
  orchestrator2  a second orchestrator with HTTP on its own port (TANDEM_ORCHESTRATORS=2)

  up      refuse if any port is taken, start the nodes, wait until each orchestrator's own
          process answers GET /health/ready (both models loaded and joined); if a node exits
          meanwhile, show the end of its log and stop the others
  status  each node: pid, running or not, ports, log (of a node that exited by itself, why, as
          its log says, and the restart that starts it again); the HTTP API's health (exit 0
          when all run)
  down    stop every node (SIGTERM: each drains and leaves the cluster; SIGKILL after 60 s),
          the orchestrators together first, each finishing its requests in flight while the
          workers still run; then the workers, stopped together
  restart NODE
          stop NODE if it runs (as down does), start it again with the same arguments (its log
          goes on in the same file) and wait until each orchestrator offers its workers: a node
          that crashed rejoins the running cluster, the orchestrator too (every node lists every
          node as a seed node; the orchestrator restarted while every other node is in the
          cluster lists them first, so that it joins them and founds no cluster of its own); with
          other nodes down it says which, once the node itself is up. Nodes keep trying to join
          as long as it takes, so a worker restarted before the orchestrator joins it later.
          A running node leaves only once the cluster has removed any other that crashed or is
          stopped by a signal (restart waits, some 10 s; with no orchestrator running to tell,
          a worker's restart is refused): a node leaving during such an outage can make the
          split brain resolver down a healthy node

Settings (environment variables, read by \`up\`; \`status\`, \`down\` and \`restart\` use what \`up\` used):
  TANDEM_HTTP_PORT      HTTP port of the orchestrator (default 8080); orchestrator2 uses the next one
  TANDEM_CLUSTER_PORT   cluster (Artery) port of the orchestrator (default 25520); small, large and
                        orchestrator2 use the next three
  TANDEM_SMALL          small model (default: the demo small model, ops/demo/small): any model spec,
                        a checkpoint folder, scripted:PATH, simulated:PATH?latency=PROFILE or an
                        engine's openai:URL?model=NAME; the scripted demo script is
                        scripted:ops/cluster/demo/small.json
  TANDEM_LARGE          large model (default: the demo large model, ops/demo/large); scripted demo:
                        scripted:ops/cluster/demo/large.json
  TANDEM_ORCHESTRATORS  1 or 2 (default 1)
  TANDEM_JAVA_OPTS      JVM options of every node (default -Xmx1g; -Dtandem.KEY=VALUE sets a config key)
  TANDEM_UP_TIMEOUT     seconds \`up\` and \`restart\` wait for the nodes (default 120)
  TANDEM_CLUSTER_DIR    logs, pid files and the settings \`up\` used (default .tandem/cluster in the
                        repository); \`status\` and \`down\` without it use the folder \`up\` last used
EOF
}

# Where `up` records the folder it used, so that `status` and `down` find it without TANDEM_CLUSTER_DIR.
last_dir="$repo/.tandem/cluster-dir"

# The folder of the cluster: TANDEM_CLUSTER_DIR when set; otherwise, for `status`, `down` and
# `restart`, the one the last `up` used; otherwise the default.
cluster_dir() {
  if [ -n "${TANDEM_CLUSTER_DIR:-}" ]; then
    echo "$TANDEM_CLUSTER_DIR"
  elif [ "$1" != up ] && [ -s "$last_dir" ] && [ -d "$(cat "$last_dir")" ]; then
    cat "$last_dir"
  else
    echo "$repo/.tandem/cluster"
  fi
}

# The settings of the cluster that `up` started; for `up`, the environment's (or the defaults).
load_settings() {
  # Where `up` ran: relative model paths are relative to it, for the nodes `restart` starts too.
  workdir="$PWD"
  local fresh=
  if [ "$1" != up ] && [ -f "$settings" ]; then
    # shellcheck disable=SC1090
    . "$settings"
  else
    cluster_port="${TANDEM_CLUSTER_PORT:-25520}"
    http_port="${TANDEM_HTTP_PORT:-8080}"
    small="${TANDEM_SMALL:-$repo/ops/demo/small}"
    large="${TANDEM_LARGE:-$repo/ops/demo/large}"
    orchestrators="${TANDEM_ORCHESTRATORS:-1}"
    java_opts="${TANDEM_JAVA_OPTS:--Xmx1g}"
    fresh=1
  fi
  case "$orchestrators" in
    1) nodes=(orchestrator small large) ;;
    2) nodes=(orchestrator small large orchestrator2) ;;
    *) echo "local.sh: TANDEM_ORCHESTRATORS must be 1 or 2, not '$orchestrators'" >&2; exit 2 ;;
  esac
  if [ -n "$fresh" ]; then
    # A port that is no number, or ports past 65535, would fail only after every node has started.
    require_port TANDEM_HTTP_PORT "$http_port" "$orchestrators" HTTP orchestrator
    require_port TANDEM_CLUSTER_PORT "$cluster_port" "${#nodes[@]}" cluster node
  fi
  # Read by `up` and `restart` only once nodes run: a bad one would fail with them left running.
  up_timeout="${TANDEM_UP_TIMEOUT:-120}"
  case "$1" in up|restart) require_seconds TANDEM_UP_TIMEOUT "$up_timeout" ;; esac
}

# $1=$2 is the first of the $3 consecutive $4 ports of the $3 $5s (one each), all within 1-65535.
# Checked as text before any arithmetic: bash evaluates a variable's text in $((...)) as an expression.
require_port() {
  local last=$((65536 - $3)) which=""
  case "$3" in
    1) ;;
    2) which=" (the $4 ports of the 2 ${5}s are it and the one after it)" ;;
    *) which=" (the $4 ports of the $3 ${5}s are it and the $(($3 - 1)) after it)" ;;
  esac
  if ! [[ "$2" =~ ^[1-9][0-9]{0,4}$ ]] || [ "$2" -gt 65535 ]; then
    echo "local.sh: $1=$2: not a port; give a number from 1 to $last$which" >&2
    exit 2
  fi
  if [ "$2" -gt "$last" ]; then
    echo "local.sh: $1=$2: the $4 ports of the $3 ${5}s would be $2 to $(($2 + $3 - 1)), past 65535, the last port there is;" \
      "give a number from 1 to $last" >&2
    exit 2
  fi
}

# $1=$2 is a whole number of seconds from 1 (checked as text, as require_port does).
require_seconds() {
  if ! [[ "$2" =~ ^[1-9][0-9]{0,5}$ ]]; then
    echo "local.sh: $1=$2: not a number of seconds; give a whole number from 1 to 999999 (default 120)" >&2
    exit 2
  fi
}

# Also records $dir as the folder `status`, `down` and `restart` use, remembering the one it replaces.
save_settings() {
  mkdir -p "$dir" "$(dirname "$last_dir")"
  previous_dir="$(cat "$last_dir" 2>/dev/null || true)"
  (cd "$dir" && pwd) >"$last_dir"
  {
    printf 'cluster_port=%q\nhttp_port=%q\nsmall=%q\nlarge=%q\norchestrators=%q\njava_opts=%q\nworkdir=%q\n' \
      "$cluster_port" "$http_port" "$small" "$large" "$orchestrators" "$java_opts" "$workdir"
  } >"$settings"
}

cluster_port_of() {
  case "$1" in
    orchestrator) echo "$cluster_port" ;;
    small) echo $((cluster_port + 1)) ;;
    large) echo $((cluster_port + 2)) ;;
    orchestrator2) echo $((cluster_port + 3)) ;;
  esac
}

http_port_of() {
  case "$1" in
    orchestrator) echo "$http_port" ;;
    orchestrator2) echo $((http_port + 1)) ;;
  esac
}

# Every node lists every node of the cluster as a seed node, the orchestrator first. Akka's rule: the
# first seed node founds the cluster only when no other seed node answers as a member, so the
# orchestrator restarted alone joins the running cluster through whichever node still runs, instead of
# founding an empty one beside it (with only the small node as the other seed, a dead small node made
# it do just that, leaving the large node alone in the old cluster). The orchestrator that restart
# starts while every other node runs in the cluster lists them first and itself last: it is then no
# first seed, and only ever joins them (Akka's JoinSeedNodeProcess), where the first seed founds a
# cluster of its own once none has answered within seed-node-timeout, which a busy machine outlasted
# (tester50b: a restarted orchestrator founded a second, empty cluster beside its running workers,
# twice in two tries). With any other node down, stopped or not joined, it stays first, to found the
# cluster if need be: a worker left alone by a crash is downed as the minority moments later, and an
# orchestrator that only joins would then wait for ever (tester50f, after a kill -9 of the orchestrator
# and a worker together).
# Sets the array `args` (declare it local first) to node $1's `tandem serve` arguments, one element
# each, so that a model path with a space in it stays one argument.
node_args() {
  local seeds=() order=() n
  order=("${nodes[@]}")
  if [ -n "${rejoining:-}" ] && [ "$1" = "${nodes[0]}" ]; then
    local others=()
    for n in "${nodes[@]}"; do
      if [ "$n" != "$1" ]; then member "$n" && others+=("$n") || { others=(); break; }; fi
    done
    if [ ${#others[@]} -gt 0 ]; then order=("${others[@]}" "$1"); fi
  fi
  for n in "${order[@]}"; do seeds+=("127.0.0.1:$(cluster_port_of "$n")"); done
  local common=(--cluster-port "$(cluster_port_of "$1")" --seed-nodes "$(IFS=,; echo "${seeds[*]}")")
  case "$1" in
    orchestrator*) args=(--roles orchestrator "${common[@]}" --port "$(http_port_of "$1")") ;;
    small) args=(--roles small "${common[@]}" --small "$small") ;;
    large) args=(--roles large "${common[@]}" --large "$large") ;;
  esac
}

pid_of() { cat "$dir/$1.pid" 2>/dev/null || true; }
# Process $1 runs: it exists and is no zombie (killed with kill -9, its exit not yet reaped).
running() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]; }
alive() { running "$(pid_of "$1")"; }
# Process $1 is stopped (SIGSTOP, Ctrl-Z, a debugger): it runs nothing, answers nothing, and handles a SIGTERM only once continued.
suspended() { [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" = T ]; }

# Node $1 runs, is not stopped by a signal, and its log says that this run of it is up in a cluster
# and has not been removed from it.
member() {
  alive "$1" && ! suspended "$(pid_of "$1")" || return 1
  local run; run="$(this_run "$dir/$1.log")"
  grep -q ' is up in the cluster (roles ' <<<"$run" && ! grep -q ' was removed from the cluster' <<<"$run"
}

# Whether something accepts connections on 127.0.0.1:$1 (bash's /dev/tcp: no tool needed).
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The pid that listens on TCP port $1, when ss or lsof can tell; empty when they cannot.
port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2
  elif command -v lsof >/dev/null 2>&1; then
    lsof -nP -iTCP:"$1" -sTCP:LISTEN -t 2>/dev/null | head -1
  fi
}

# Answers GET /health/ready with 200 and status "ready" (with on-large-loss = degrade it is 200 and
# "degraded: ..." without a large worker: up and restart wait for both), and the listener is the
# process started for node $1.
ready() {
  local port owner
  port="$(http_port_of "$1")"
  curl -fsS -m 2 "http://127.0.0.1:$port/health/ready" 2>/dev/null | grep -q '"status":"ready"' || return 1
  owner="$(port_owner "$port")"
  if [ -n "$owner" ] && [ "$owner" != "$(pid_of "$1")" ]; then
    echo "local.sh: 127.0.0.1:$port answers, but from pid $owner, not from $1 (pid $(pid_of "$1"))" >&2
    return 2
  fi
}

up() {
  for n in orchestrator small large orchestrator2; do
    if alive "$n"; then
      echo "local.sh: $n is already running (pid $(pid_of "$n")): see ops/cluster/local.sh status, or stop it with down" >&2
      exit 1
    fi
  done
  # No two nodes may be given one port (TANDEM_HTTP_PORT inside the cluster ports, or the reverse).
  local -A owner=()
  local n p
  for n in "${nodes[@]}"; do
    for p in "cluster port $(cluster_port_of "$n")" "HTTP port $(http_port_of "$n")"; do
      case "$p" in HTTP*) case "$n" in orchestrator*) ;; *) continue ;; esac ;; esac
      if [ -n "${owner[${p##* }]:-}" ]; then
        echo "local.sh: port ${p##* } is both the ${owner[${p##* }]} and the ${p% *} of $n; choose ports that do not overlap:" \
          "the cluster ports are TANDEM_CLUSTER_PORT and the $((${#nodes[@]} - 1)) after it, the HTTP ports TANDEM_HTTP_PORT and," \
          "with TANDEM_ORCHESTRATORS=2, the one after it" >&2
        exit 2
      fi
      owner[${p##* }]="${p% *} of $n"
    done
  done
  # Every port is checked before anything starts: a node that cannot bind would die after loading.
  local taken=()
  for n in "${nodes[@]}"; do
    listening "$(cluster_port_of "$n")" && taken+=("cluster port $(cluster_port_of "$n") ($n)")
    case "$n" in orchestrator*) listening "$(http_port_of "$n")" && taken+=("HTTP port $(http_port_of "$n") ($n)") ;; esac
  done
  if [ ${#taken[@]} -gt 0 ]; then
    local list; list="$(printf '%s, ' "${taken[@]}")"
    echo "local.sh: ${list%, } already in use on 127.0.0.1 (another Tandem?); stop it, or choose other ports with TANDEM_HTTP_PORT=N and TANDEM_CLUSTER_PORT=N" >&2
    exit 1
  fi
  save_settings
  for n in "${nodes[@]}"; do start_node "$n" ">"; done
  await_ready up "${nodes[@]}"
  local urls="http://127.0.0.1:$http_port/"
  [ "$orchestrators" = 2 ] && urls="$urls and http://127.0.0.1:$(http_port_of orchestrator2)/"
  echo "local.sh: cluster up; OpenAI API and playground on $urls (models: $small, $large)"
}

# Starts node $1 in the background, its log truncated ($2 is ">") or appended to (">>").
# Nothing here restarts a node that gives up joining (as a supervisor would), so nodes keep trying
# as long as it takes (Akka's default; Tandem's is 60 s): a worker restarted while the orchestrator
# is down joins once the orchestrator runs again. TANDEM_JAVA_OPTS comes after, so it may set another.
join_opts="-Dakka.cluster.shutdown-after-unsuccessful-join-seed-nodes=off"

run_mark="local.sh: starting"

# The lines of log $1 from the node's latest start on (its earlier runs' lines, before a restart, left out).
this_run() {
  awk -v mark="$run_mark" 'index($0, mark) == 1 { n = 0 } { lines[++n] = $0 } END { for (i = 1; i <= n; i++) print lines[i] }' "$1" 2>/dev/null
}

start_node() {
  local args
  node_args "$1"
  # Each run of the node begins its part of the log with this line (restart appends): what it said on exit is read after it.
  if [ "$2" = ">>" ]; then echo "$run_mark $1" >>"$dir/$1.log"; else echo "$run_mark $1" >"$dir/$1.log"; fi
  (cd "$workdir" && TANDEM_JAVA_OPTS="$join_opts $java_opts" exec nohup "$repo/tandem" serve "${args[@]}") >>"$dir/$1.log" 2>&1 &
  echo $! >"$dir/$1.pid"
  echo "local.sh: started $1 (pid $!), log $dir/$1.log"
}

# Waits until each orchestrator's own process answers GET /health/ready, watching the nodes $2...
# If one exits meanwhile, shows the end of its log and exits 1; with $1 = up it stops the others
# first (a cluster half up is no use), with $1 = restart it leaves the running cluster alone.
await_ready() {
  local mode="$1"; shift
  local watched=("$@") deadline=$((SECONDS + up_timeout)) waiting=() state n
  # The orchestrators that run: one of two not running is told of apart (not_running), the other serving meanwhile.
  for n in $(running_orchestrators); do waiting+=("$n"); done
  while [ ${#waiting[@]} -gt 0 ]; do
    for n in "${watched[@]}"; do
      if ! alive "$n"; then
        echo "local.sh: $n exited; the end of its log ($dir/$n.log):" >&2
        tail -5 "$dir/$n.log" >&2
        give_up "$mode"
      fi
    done
    local still=()
    for n in "${waiting[@]}"; do
      # One that exits or is stopped by a signal meanwhile (the split brain resolver downed it, say) is waited for no
      # more (tester48e: restart waited 120 s for one that had exited): what it is, not_running says after the wait.
      if [ "$mode" = restart ] && { ! alive "$n" || suspended "$(pid_of "$n")"; }; then continue; fi
      state=0; ready "$n" || state=$?
      if [ "$state" = 2 ]; then give_up "$mode"; fi
      [ "$state" = 0 ] || still+=("$n")
    done
    waiting=(${still[@]+"${still[@]}"})
    [ ${#waiting[@]} -eq 0 ] && break
    if [ "$mode" = restart ] && [ -z "$(running_orchestrators)" ]; then
      echo "local.sh: no orchestrator runs: $(not_running)" >&2
      give_up "$mode"
    fi
    if [ $SECONDS -ge "$deadline" ]; then
      for n in "${waiting[@]}"; do not_ready "$n"; done
      echo "local.sh: see the logs in $dir" >&2
      give_up "$mode"
    fi
    sleep 0.5
  done
}

# What GET /health/ready on 127.0.0.1:$1 answers, as "STATUS BODY" (a 503 while the orchestrator has
# no worker of a role its sessions need says which); empty when nothing answers.
readiness() {
  local out
  out="$(curl -sS -m 2 -w '\n%{http_code}' "http://127.0.0.1:$1/health/ready" 2>/dev/null)" || return 0
  [ "${out##*$'\n'}" = 000 ] || echo "${out##*$'\n'} ${out%$'\n'*}"
}

# Says why orchestrator $1 is not ready after the wait: no answer on its HTTP port, or what it answers.
not_ready() {
  local port answer
  port="$(http_port_of "$1")"
  answer="$(readiness "$port")"
  if [ -z "$answer" ]; then
    echo "local.sh: $1 did not answer on http://127.0.0.1:$port/ within $up_timeout s" >&2
  else
    echo "local.sh: $1 answers on http://127.0.0.1:$port/ but is not ready after $up_timeout s: GET /health/ready says $answer" >&2
  fi
}

give_up() {
  if [ "$1" = up ]; then
    echo "local.sh: stopping the other nodes" >&2
    down >&2
    # A failed up leaves status and down pointed at the cluster they found before it.
    if [ -n "${previous_dir:-}" ]; then echo "$previous_dir" >"$last_dir"; else rm -f "$last_dir"; fi
  fi
  exit 1
}

# Stops the nodes $1... that run, together: SIGTERM to each (it drains, then leaves the cluster),
# then waits for each, and SIGKILLs one still running 60 s after its signal: past the longest drain
# (Akka's service-requests-done phase, 40 s by default) and the leaving. They drain and leave at the
# same time, so stopping them takes as long as the slowest of them, not the sum.
stop_nodes() {
  local n pid deadline=$((SECONDS + 60))
  local -A signalled=()
  for n in "$@"; do
    pid="$(pid_of "$n")"
    if running "$pid"; then
      # It may exit by itself between the check and the signal: that is no error.
      kill -TERM "$pid" 2>/dev/null || true
      # A stopped node would hold its SIGTERM until continued, and be killed at the deadline below: continue it to drain.
      if suspended "$pid"; then kill -CONT "$pid" 2>/dev/null || true; fi
      signalled[$n]=1
    elif [ -n "$pid" ]; then
      echo "local.sh: $n (pid $pid) had already exited; $(last_word "$dir/$n.log")"
    fi
  done
  for n in "$@"; do
    pid="$(pid_of "$n")"
    if [ -n "${signalled[$n]:-}" ]; then
      while running "$pid" && [ $SECONDS -lt "$deadline" ]; do sleep 0.25; done
      if running "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        echo "local.sh: $n (pid $pid) killed"
      else
        echo "local.sh: $n (pid $pid) stopped"
      fi
    fi
    # A node that has exited may not be reaped yet: its pid is gone only then.
    if [ -n "$pid" ]; then for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done; fi
    rm -f "$dir/$n.pid"
  done
}

restart() {
  if [ ! -f "$settings" ]; then
    echo "local.sh: no cluster was started in $dir; start one with ops/cluster/local.sh up" >&2
    exit 1
  fi
  # `down` leaves the settings but no pid file; a node that died keeps its own.
  if ! compgen -G "$dir/*.pid" >/dev/null; then
    echo "local.sh: the cluster in $dir is down; start it with ops/cluster/local.sh up" >&2
    exit 1
  fi
  local node="${1:-}" o
  if [ -z "$node" ]; then
    echo "local.sh: restart which node? give one of ${nodes[*]}" >&2
    exit 2
  fi
  if [[ ! " ${nodes[*]} " == *" $node "* ]]; then
    if [ "$node" = orchestrator2 ]; then
      echo "local.sh: orchestrator2 is not in this cluster (up ran with TANDEM_ORCHESTRATORS=$orchestrators; up with" \
        "TANDEM_ORCHESTRATORS=2 starts it); give one of ${nodes[*]}" >&2
    else
      echo "local.sh: restart $node: no such node in this cluster; give one of ${nodes[*]}" >&2
    fi
    exit 2
  fi
  if alive "$node"; then await_outages_over "$node"; fi
  stop_nodes "$node"
  if listening "$(cluster_port_of "$node")"; then
    echo "local.sh: cluster port $(cluster_port_of "$node") of $node is still in use on 127.0.0.1; stop what holds it, then restart $node" >&2
    exit 1
  fi
  # As up checks: an orchestrator that cannot bind its HTTP port would die after loading.
  case "$node" in orchestrator*)
    if listening "$(http_port_of "$node")"; then
      echo "local.sh: HTTP port $(http_port_of "$node") of $node is in use on 127.0.0.1; stop what holds it, then restart $node" >&2
      exit 1
    fi ;;
  esac
  # Where each running orchestrator's log ends now: the line that offers the new node's workers
  # comes after it. (Readiness alone would count the workers of the node's previous incarnation.)
  local -A mark=()
  case "$node" in orchestrator*) ;; *)
    for o in orchestrator orchestrator2; do
      if alive "$o"; then mark[$o]=$(wc -l <"$dir/$o.log"); fi
    done ;;
  esac
  local from; from=$(($(wc -l <"$dir/$node.log" 2>/dev/null || echo 0) + 1))
  rejoining=1 start_node "$node" ">>"
  # The directory's line comes as the node is up; the workers' registrations follow, which readiness sees.
  await_offered "$node" mark "$from"
  if [ -n "$(not_running)" ]; then
    # Nothing else can be waited for, so at least the node itself must be up: an orchestrator
    # answering on its HTTP port, a worker serving its model. What is not running is told after
    # that wait (a node may have gone meanwhile).
    await_started "$node" "$from"
    local down; down="$(not_running)"
    if [ -n "$down" ] && [ -z "$(serving_orchestrator)" ]; then
      echo "local.sh: $node restarted; $down"
      return
    fi
  fi
  await_ready restart "$node"
  local port="$http_port" serving; serving="$(serving_orchestrator)"
  if [ -n "$serving" ]; then
    # One of two orchestrators not running, the other ready (tester48a: "the cluster is not ready" while it was).
    echo "local.sh: $node restarted; the cluster answers on http://127.0.0.1:$(http_port_of "$serving")/; $(not_running)"
    return
  fi
  [ "$node" = orchestrator2 ] && port="$(http_port_of orchestrator2)"
  echo "local.sh: $node restarted; the cluster answers on http://127.0.0.1:$port/"
}

# Whether orchestrator $2's log of this run says that node $1 is a member: up, and not removed since (it may have
# crashed or stalled since). A node it never saw up in this run is not.
seen_member() {
  local last; last="$(last_seen "$1" "$2")"
  [ -n "$last" ] && ! grep -q ') was removed' <<<"$last"
}

# The last line of orchestrator $2's log of this run on node $1's membership: up, or removed.
last_seen() {
  this_run "$dir/$2.log" | grep -F "node akka://tandem@127.0.0.1:$(cluster_port_of "$1") (incarnation" | tail -1
}

# Whether a running orchestrator's log of this run says that node $1 was removed from the cluster since it was last up.
removed() {
  local o last
  for o in "${nodes[@]}"; do
    case "$o" in orchestrator*) ;; *) continue ;; esac
    [ "$o" != "$1" ] && alive "$o" && ! suspended "$(pid_of "$o")" || continue
    last="$(last_seen "$1" "$o")"
    grep -q ') was removed' <<<"$last"
    return
  done
  return 1
}

# Before node $1 leaves the cluster (restart stops it with SIGTERM), waits until no other node is a member the others
# cannot reach: one that crashed (kill -9) and is not removed yet, or one stopped by a signal. A node leaving during
# such an outage made Akka's split brain resolver down the third, healthy node too (tester50f: kill -9 of the
# orchestrator, then at once restart small, downed large). The cluster removes such a node stable-after (7 s) after
# finding it unreachable; a node resumed meanwhile is no outage any more. Whether one was removed is what a running
# orchestrator's log says; with none running, restart refuses, as the orchestrator is to be started first.
await_outages_over() {
  local node="$1" o reader="" said="" deadline=$((SECONDS + up_timeout))
  local outages=()
  # Stopped by a signal itself, it would leave the moment it is continued (stop_nodes continues it to drain): continued
  # now, it tells whether the others were removed as any running node does (tester51e: a stopped orchestrator restarted
  # beside a worker just killed left at once, and the healthy worker was downed).
  if suspended "$(pid_of "$node")"; then kill -CONT "$(pid_of "$node")" 2>/dev/null || true; fi
  while true; do
    reader=""
    for o in "${nodes[@]}"; do
      case "$o" in orchestrator*) if alive "$o" && ! suspended "$(pid_of "$o")"; then reader="$o"; break; fi ;; esac
    done
    outages=()
    for o in "${nodes[@]}"; do
      # Not a member: running, or stopped by down or restart (which remove its pid file once it has left).
      [ "$o" = "$node" ] && continue
      [ -f "$dir/$o.pid" ] || continue
      if alive "$o" && ! suspended "$(pid_of "$o")"; then continue; fi
      if [ -z "$reader" ]; then
        # The orchestrator itself stopped by a signal: its restart is what was asked for.
        case "$node" in orchestrator*) return 0 ;; esac
        echo "local.sh: restart $node: $(not_running); with no orchestrator running, whether the cluster has removed" \
          "what is down cannot be told, and $node leaving while that is still a member could make the split brain resolver" \
          "down a healthy node: start the orchestrator first (or resume it, if it is stopped by a signal)" >&2
        exit 1
      fi
      if seen_member "$o" "$reader"; then
        if alive "$o"; then outages+=("$o (stopped by a signal, pid $(pid_of "$o"): kill -CONT $(pid_of "$o") resumes it)")
        else outages+=("$o (not running)"); fi
      fi
    done
    [ ${#outages[@]} -gt 0 ] || return 0
    if [ -z "$said" ]; then
      echo "local.sh: waiting for the cluster to remove ${outages[*]} before $node leaves it (some 10 s after it stopped" \
        "answering):" \
        "a node leaving while another is unreachable can make the split brain resolver down a healthy one"
      said=1
    fi
    if [ $SECONDS -ge "$deadline" ]; then
      echo "local.sh: $reader has not logged that the cluster removed ${outages[*]} within $up_timeout s; $node was left" \
        "running; see $dir/$reader.log" >&2
      exit 1
    fi
    sleep 0.5
  done
}

# The orchestrators that run and are not stopped by a signal, by name.
running_orchestrators() {
  local n
  for n in orchestrator orchestrator2; do
    [ "$n" = orchestrator2 ] && [ "$orchestrators" != 2 ] && continue
    if alive "$n" && ! suspended "$(pid_of "$n")"; then echo "$n"; fi
  done
}

# With two orchestrators, when every node not running (or stopped by a signal) is an orchestrator
# and the other orchestrator runs: that one's name, as the one that serves the cluster meanwhile;
# nothing otherwise.
serving_orchestrator() {
  [ "$orchestrators" = 2 ] || return 0
  local o serving="" down=0
  for o in "${nodes[@]}"; do
    if ! alive "$o" || suspended "$(pid_of "$o")"; then
      case "$o" in orchestrator*) down=1 ;; *) return 0 ;; esac
    elif [[ "$o" == orchestrator* ]] && [ -z "$serving" ]; then serving="$o"; fi
  done
  [ "$down" = 1 ] && echo "$serving"
  return 0
}

# Says which nodes are not running, if any, and how to start each again: "orchestrator and large not
# running, so the cluster is not ready until they run again (local.sh restart orchestrator, local.sh
# restart large)"; nothing when all run.
not_running() {
  local stopped=() o again="" names i
  # A node stopped by a signal runs nothing either: it is resumed, not restarted (tester44c: restart waited 120 s for it).
  for o in "${nodes[@]}"; do
    if ! alive "$o"; then stopped+=("$o"); again="$again, local.sh restart $o"
    elif suspended "$(pid_of "$o")" && removed "$o"; then
      # Downed while it stalled: resumed, it would only exit (tester50h: status said kill -CONT).
      stopped+=("$o (stopped by a signal, and removed from the cluster meanwhile)"); again="$again, local.sh restart $o"
    elif suspended "$(pid_of "$o")"; then stopped+=("$o (stopped by a signal)"); again="$again, kill -CONT $(pid_of "$o")"; fi
  done
  [ ${#stopped[@]} -gt 0 ] || return 0
  names="${stopped[0]}"
  for ((i = 1; i < ${#stopped[@]}; i++)); do
    if [ $i -eq $((${#stopped[@]} - 1)) ]; then names="$names and ${stopped[$i]}"; else names="$names, ${stopped[$i]}"; fi
  done
  if [ -n "$(serving_orchestrator)" ]; then
    echo "$names not running (${again#, }); $(serving_orchestrator) serves the cluster meanwhile"
  elif [ ${#stopped[@]} -gt 1 ]; then
    echo "$names not running, so the cluster is not ready until they run again (${again#, })"
  else
    echo "$names not running, so the cluster is not ready until it runs again (${again#, })"
  fi
}

# Waits until node $1 is up by itself, whatever the others do: an orchestrator answers GET
# /health/live on its HTTP port, a worker has logged (from line $2 of its log on) that it serves its
# model. If it exits first, or is not up within the start-up time-out, shows the end of its log and exits 1.
await_started() {
  local node="$1" from="$2" deadline=$((SECONDS + up_timeout))
  while true; do
    if ! alive "$node"; then
      echo "local.sh: $node exited; the end of its log ($dir/$node.log):" >&2
      tail -5 "$dir/$node.log" >&2
      exit 1
    fi
    case "$node" in
      orchestrator*)
        [ "$(curl -sS -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(http_port_of "$node")/health/live" 2>/dev/null)" = 200 ] \
          && return
        # An orchestrator that is no first seed opens its HTTP port once it has joined, which waits for the others.
        unjoined "$node" "$from" && return ;;
      *) tail -n "+$from" "$dir/$node.log" | grep -q ' worker .* serving ' && return ;;
    esac
    if [ $SECONDS -ge "$deadline" ]; then
      echo "local.sh: $node is running but not up after $up_timeout s; see $dir/$node.log" >&2
      exit 1
    fi
    sleep 0.5
  done
}

# Waits until every orchestrator in the map named $2 (orchestrator -> its log's length before the
# restart) has logged, after that line, that it offers the workers of node $1 to its sessions.
await_offered() {
  local node="$1" from="$3" o deadline=$((SECONDS + up_timeout))
  local -n marks="$2"
  local up="node akka://tandem@127.0.0.1:$(cluster_port_of "$node") (incarnation"
  for o in "${!marks[@]}"; do
    until tail -n +"$((marks[$o] + 1))" "$dir/$o.log" | grep -F "$up" | grep -q -F "is up: its workers are offered"; do
      # Stopped by a signal, it takes nothing until resumed (tester48e: restart waited 120 s for one): not_running says.
      if suspended "$(pid_of "$o")"; then break; fi
      local gone
      for gone in "$node" "$o"; do
        if ! alive "$gone"; then
          echo "local.sh: $gone exited; the end of its log ($dir/$gone.log):" >&2
          tail -5 "$dir/$gone.log" >&2
          # An orchestrator downed meanwhile (keep-majority, when the other workers crashed too): the
          # restarted node keeps trying to join, and the others are to be started, the orchestrator first.
          [ "$gone" = "$node" ] || echo "local.sh: $(not_running)" >&2
          exit 1
        fi
      done
      # Not let in while other nodes are down (the orchestrator waits to join too, say): nothing will
      # be offered until they run; restart says which.
      if unjoined "$node" "$from" && [ -n "$(not_running)" ]; then return; fi
      if [ $SECONDS -ge "$deadline" ]; then
        echo "local.sh: $o did not take $node's workers within $up_timeout s; see the logs in $dir" >&2
        exit 1
      fi
      sleep 0.5
    done
  done
}

# Node $1 has logged, from line $2 of its log on, that it has not joined the cluster yet (its join
# WARN, after tandem.cluster.join-warning-after): none of its seed nodes lets it in.
unjoined() {
  tail -n "+$2" "$dir/$1.log" 2>/dev/null | grep -q ' has not joined the cluster after '
}

# Every node that has a pid file, whatever the settings say, in two steps of nodes stopped together:
# the orchestrators, waited for until each exits (on SIGTERM each finishes its requests in flight,
# which need the workers still running), then the workers.
# The settings (and the folder `up` last used) stay, so that `status` reports that cluster's ports as not running.
down() {
  local step n
  # A stopped node (SIGSTOP) holds the requests bound to it: continued first, it serves them while the
  # orchestrators drain, where continued at its own step it had been downed and they were lost (tester44c).
  for n in "${nodes[@]}"; do
    if alive "$n" && suspended "$(pid_of "$n")"; then kill -CONT "$(pid_of "$n")" 2>/dev/null || true; fi
  done
  for step in "orchestrator orchestrator2" "small large"; do
    local these=()
    for n in $step; do
      if [ -f "$dir/$n.pid" ]; then these+=("$n"); fi
    done
    if [ ${#these[@]} -gt 0 ]; then stop_nodes "${these[@]}"; fi
  done
}

# Why a node whose log is $1 exited, as far as the log tells: its exit line (`tandem serve: ...`,
# such as "node ... was removed from the cluster"), else a drain after SIGTERM, else its last line
# (a node killed says nothing).
last_word() {
  local line
  local run; run="$(this_run "$1")"
  line="$(grep -a '^tandem serve: ' <<<"$run" | tail -1)"
  if [ -n "$line" ]; then echo "it said (log $1):"; echo "    $line"; return; fi
  line="$(grep -av '^[[:space:]]*$' <<<"$run" | tail -1)"
  # A node stopped with SIGTERM from outside local.sh (kill PID, a supervisor) drains and logs it: an
  # orchestrator "shutting down", a worker "the node is stopping; draining", then "drained in" or, with
  # sessions still bound, a warning at tandem.worker.shutdown-deadline.
  if grep -aq 'by the cluster while draining' <<<"$run"; then
    echo "it was stopped (SIGTERM, not by down), and the cluster downed it while it drained (it stopped then; its"
    echo "  sessions had lost its workers); its log $1 ends:"
  elif grep -aq 'at the shutdown deadline' <<<"$run"; then
    echo "it was stopped (SIGTERM, not by down) and drained until its shutdown deadline; its log $1 ends:"
  elif grep -aq 'tandem serve: shutting down\|drained in\|the node is stopping; draining' <<<"$run"; then
    echo "it was stopped (SIGTERM, not by down) and drained; its log $1 ends:"
  else
    echo "it said nothing on exit (killed?); its log $1 ends:"
  fi
  echo "    ${line:-(empty)}"
}

status() {
  local running=0 port answer
  for n in "${nodes[@]}"; do
    port="cluster port $(cluster_port_of "$n")"
    case "$n" in orchestrator*) port="$port, HTTP port $(http_port_of "$n")" ;; esac
    if alive "$n" && suspended "$(pid_of "$n")" && removed "$n"; then
      echo "$n: stopped by a signal (pid $(pid_of "$n"), SIGSTOP or Ctrl-Z), and removed from the cluster meanwhile (resumed," \
        "it would exit): start it again with ops/cluster/local.sh restart $n, $port"
    elif alive "$n" && suspended "$(pid_of "$n")"; then
      # Not counted as running (status exits 1): it serves nothing, and the cluster downs it once unreachable long enough.
      echo "$n: stopped by a signal (pid $(pid_of "$n"), SIGSTOP or Ctrl-Z): it answers nothing; resume it with kill -CONT $(pid_of "$n"), $port"
    elif alive "$n" && removed "$n"; then
      # Resumed after the cluster removed it: it runs for the seconds it takes to learn so, then exits (tester54e: called
      # running, exit 0). Not counted as running.
      echo "$n: removed from the cluster while it was stopped, and resumed (pid $(pid_of "$n")): it exits by itself within" \
        "seconds; start it again with ops/cluster/local.sh restart $n, $port"
    elif alive "$n"; then
      running=$((running + 1)); echo "$n: running (pid $(pid_of "$n")), $port; log $dir/$n.log"
    elif [ -f "$dir/$n.pid" ]; then
      # Not stopped by down (which removes the pid file): it exited, or was killed, by itself.
      echo "$n: exited (pid $(pid_of "$n")), $port; $(last_word "$dir/$n.log")"
      echo "  start it again with ops/cluster/local.sh restart $n"
    else
      echo "$n: not running ($port)"
    fi
  done
  for n in "${nodes[@]}"; do
    case "$n" in orchestrator*) ;; *) continue ;; esac
    port="$(http_port_of "$n")"
    # Only this cluster's own orchestrator counts: another server on the port is not its API.
    if ! alive "$n"; then echo "http: 127.0.0.1:$port not ready ($n is not running)"
    elif ready "$n"; then echo "http: http://127.0.0.1:$port/ ready"
    else
      answer="$(readiness "$port")"
      # on-large-loss = degrade: ready for a load balancer, answering with the small model alone.
      case "$answer" in
        200\ *degraded*) echo "http: http://127.0.0.1:$port/ ready but degraded (${answer#200 })" ;;
        *) echo "http: 127.0.0.1:$port not ready (${answer:-no answer})" ;;
      esac
    fi
  done
  [ "$running" -eq ${#nodes[@]} ]
}

case "${1:-}" in
  up|down|status|restart) dir="$(cluster_dir "$1")"; settings="$dir/settings" ;;
esac
case "${1:-}" in
  up) load_settings up; up ;;
  down) load_settings down; down ;;
  status) load_settings status; status ;;
  restart) load_settings restart; restart "${2:-}" ;;
  -h|--help|help) usage ;;
  "") echo "local.sh: give a command: up, status, down, restart NODE or --help" >&2; exit 2 ;;
  *) echo "local.sh: unknown command '$1'; give up, status, down, restart NODE or --help" >&2; exit 2 ;;
esac
