#!/usr/bin/env bash
# cluster.sh: run a throw-away Apache Pulsar cluster of two brokers for the
# fault tests (tests/faults).
#
# How this works:
#   * It uses the same Maven Central distribution as broker.sh (installed by
#     `broker.sh install`, never modified) and runs four JVMs from it, each in
#     its own session with its own pid file, conf copy and log under a run
#     directory of its own ($PP_CACHE/cluster):
#       zookeeper  bin/pulsar zookeeper            127.0.0.1:$ZK_PORT
#       bookie     bin/pulsar bookie               127.0.0.1:$BOOKIE_PORT
#       broker 1   bin/pulsar broker               127.0.0.1:$B1_PORT, admin :$B1_WEB
#       broker 2   bin/pulsar broker               127.0.0.1:$B2_PORT, admin :$B2_WEB
#     after `bin/pulsar initialize-cluster-metadata` has written the cluster
#     into ZooKeeper. Every port is on 127.0.0.1; the JVMs get small heaps.
#   * Each broker advertises two listeners: "internal" (its own port, used by
#     the brokers, the admin API and the independent consumer) and "external",
#     a port on which nothing of this script listens: the fault tests put
#     their fault-injection proxy there (broker 1: $B1_PROXY, broker 2:
#     $B2_PROXY). A client that asks for listenerName "external" is therefore
#     sent through the proxy by every lookup and redirect, so the data
#     connections cross it (the proxy counts them).
#   * Load shedding and automatic bundle splits are off: a bundle moves only
#     when a test moves it (unload, with or without destinationBroker), or
#     when its broker dies. The metadata session timeout is short (6 s), so
#     the topics of a killed broker move to the other one within seconds.
#   * Only processes whose pid file names them and whose command line names
#     this run's conf file are ever signalled. The standalone broker of
#     broker.sh (6650/8080) is never touched and does not conflict.
#   * Concurrent start/stop calls are serialised with flock(1).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PP_CACHE="${PP_CACHE:-$HOME/.cache/pulsar-producer}"
RUN_DIR="${PP_CLUSTER_DIR:-$PP_CACHE/cluster}"
LOCK_FILE="$PP_CACHE/cluster.lock"
CLUSTER_NAME="pp-cluster"
ZK_PORT="${PP_CLUSTER_ZK_PORT:-2191}"
BOOKIE_PORT="${PP_CLUSTER_BOOKIE_PORT:-3191}"
B1_PORT="${PP_CLUSTER_B1_PORT:-6750}"
B2_PORT="${PP_CLUSTER_B2_PORT:-6751}"
B1_WEB="${PP_CLUSTER_B1_WEB:-8180}"
B2_WEB="${PP_CLUSTER_B2_WEB:-8181}"
B1_PROXY="${PP_CLUSTER_B1_PROXY:-6760}"
B2_PROXY="${PP_CLUSTER_B2_PROXY:-6761}"
START_TIMEOUT="${PP_CLUSTER_START_TIMEOUT:-180}"
STOP_TIMEOUT="${PP_CLUSTER_STOP_TIMEOUT:-15}"
ZK_MEM="${PP_CLUSTER_ZK_MEM:--Xms32m -Xmx96m}"
BOOKIE_MEM="${PP_CLUSTER_BOOKIE_MEM:--Xms96m -Xmx256m -XX:MaxDirectMemorySize=256m}"
BROKER_MEM="${PP_CLUSTER_BROKER_MEM:--Xms128m -Xmx384m -XX:MaxDirectMemorySize=384m}"
TOOL_MEM="-Xms32m -Xmx128m"
# G1 without AlwaysPreTouch, as broker.sh: starts faster on a small machine.
JVM_GC="-XX:+UseG1GC -XX:+PerfDisableSharedMem"

usage() {
	cat <<EOF
Usage: $(basename "$0") <command>

Runs a local Apache Pulsar cluster: one ZooKeeper, one bookie and two
brokers, all on 127.0.0.1 (state under $RUN_DIR).

Commands:
  start             Start a fresh cluster (previous data wiped) and wait until
                    both brokers are ready; "already running" if it is.
  stop              Stop every process this script started (pid files).
  status            Exit 0 if both brokers are ready, 1 otherwise.
  kill-broker N     kill -9 broker N (1 or 2); its data stays.
  restart-broker N  Start broker N again (after kill-broker) and wait until it
                    is ready; if it runs, only wait until it is ready.
  ports             Print the ports as shell assignments.
  help              Show this text.

Ports: zookeeper $ZK_PORT, bookie $BOOKIE_PORT, broker 1 $B1_PORT (admin
$B1_WEB, external listener $B1_PROXY), broker 2 $B2_PORT (admin $B2_WEB,
external listener $B2_PROXY). Environment: PP_CACHE, PP_CLUSTER_DIR,
PP_CLUSTER_*_PORT / _WEB / _PROXY, PP_CLUSTER_START_TIMEOUT,
PP_CLUSTER_{ZK,BOOKIE,BROKER}_MEM.
EOF
}

log() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

alive() {
	local state
	state="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
	[[ -n "$state" && "$state" != Z* ]]
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

conf_of() { printf '%s/%s.conf\n' "$RUN_DIR" "$1"; }

# owned_pid NAME: the pid of component NAME (zk, bookie, broker1, broker2) if
# its pid file names a live process that carries this run's marker for NAME
# in its environment (set by launch before bin/pulsar; it survives the
# execs into java, whose command line then also names the conf file).
owned_pid() {
	local f="$RUN_DIR/$1.pid" pid
	[[ -f "$f" ]] || return 1
	pid="$(cat "$f")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[[ -r "/proc/$pid/environ" ]] || return 1
	tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "PP_CLUSTER_COMPONENT=$RUN_DIR/$1" || return 1
	alive "$pid" || return 1
	printf '%s\n' "$pid"
}

# set_conf FILE KEY VALUE: replace KEY's line, or append it. Keys must stay
# unique: BookKeeper's configuration reader turns duplicates into lists.
set_conf() {
	local file="$1" key="$2" value="$3"
	# bookkeeper.conf does not end with a newline: an appended key would
	# join its last line.
	[[ -z "$(tail -c 1 "$file")" ]] || printf '\n' >>"$file"
	if grep -q "^${key}=" "$file"; then
		sed -i "s|^${key}=.*|${key}=${value}|" "$file"
	else
		printf '%s=%s\n' "$key" "$value" >>"$file"
	fi
}

web_port() { if [[ "$1" == 1 ]]; then echo "$B1_WEB"; else echo "$B2_WEB"; fi; }

write_confs() {
	local home="$1" f
	f="$(conf_of zk)"
	cp "$home/conf/zookeeper.conf" "$f"
	set_conf "$f" dataDir "$RUN_DIR/data/zookeeper"
	set_conf "$f" clientPort "$ZK_PORT"
	set_conf "$f" clientPortAddress 127.0.0.1
	set_conf "$f" admin.enableServer false
	set_conf "$f" forceSync no
	# The Prometheus provider would listen on 0.0.0.0:8000.
	set_conf "$f" metricsProvider.className org.apache.zookeeper.metrics.impl.DefaultMetricsProvider

	f="$(conf_of bookie)"
	cp "$home/conf/bookkeeper.conf" "$f"
	set_conf "$f" bookiePort "$BOOKIE_PORT"
	set_conf "$f" advertisedAddress 127.0.0.1
	set_conf "$f" listeningInterface lo
	set_conf "$f" allowLoopback true
	set_conf "$f" metadataServiceUri "zk+null://127.0.0.1:$ZK_PORT/ledgers"
	set_conf "$f" zkServers "127.0.0.1:$ZK_PORT"
	set_conf "$f" journalDirectory "$RUN_DIR/data/bookie/journal"
	set_conf "$f" ledgerDirectories "$RUN_DIR/data/bookie/ledgers"
	# A test cluster: the bookie is never killed, so its journal need not
	# reach the disk before an add is acknowledged.
	set_conf "$f" journalSyncData false
	set_conf "$f" statsProviderClass org.apache.bookkeeper.stats.NullStatsProvider
	set_conf "$f" httpServerEnabled false
	set_conf "$f" dbStorage_writeCacheMaxSizeMb 32
	set_conf "$f" dbStorage_readAheadCacheMaxSizeMb 16
	set_conf "$f" dbStorage_rocksDB_blockCacheSize 16777216
	set_conf "$f" numReadWorkerThreads 2
	set_conf "$f" numHighPriorityWorkerThreads 2
	set_conf "$f" journalPreAllocSizeMB 4
	# Do not go read-only on a busy shared disk.
	set_conf "$f" diskUsageThreshold 0.99
	set_conf "$f" diskUsageWarnThreshold 0.98

	local n port web proxy
	for n in 1 2; do
		if [[ "$n" == 1 ]]; then port=$B1_PORT web=$B1_WEB proxy=$B1_PROXY; else port=$B2_PORT web=$B2_WEB proxy=$B2_PROXY; fi
		f="$(conf_of "broker$n")"
		cp "$home/conf/broker.conf" "$f"
		set_conf "$f" clusterName "$CLUSTER_NAME"
		set_conf "$f" metadataStoreUrl "zk:127.0.0.1:$ZK_PORT"
		set_conf "$f" configurationMetadataStoreUrl "zk:127.0.0.1:$ZK_PORT"
		set_conf "$f" metadataStoreSessionTimeoutMillis 6000
		set_conf "$f" brokerServicePort "$port"
		set_conf "$f" webServicePort "$web"
		set_conf "$f" bindAddress 127.0.0.1
		set_conf "$f" advertisedAddress 127.0.0.1
		set_conf "$f" advertisedListeners "internal:pulsar://127.0.0.1:$port,external:pulsar://127.0.0.1:$proxy"
		set_conf "$f" internalListenerName internal
		set_conf "$f" managedLedgerDefaultEnsembleSize 1
		set_conf "$f" managedLedgerDefaultWriteQuorum 1
		set_conf "$f" managedLedgerDefaultAckQuorum 1
		set_conf "$f" brokerShutdownTimeoutMs 3000
		set_conf "$f" brokerDeleteInactiveTopicsEnabled false
		set_conf "$f" loadBalancerSheddingEnabled false
		set_conf "$f" loadBalancerAutoBundleSplitEnabled false
		set_conf "$f" loadBalancerAutoUnloadSplitBundlesEnabled false
		set_conf "$f" bookkeeperClientRackawarePolicyEnabled false
		set_conf "$f" forceDeleteNamespaceAllowed true
		set_conf "$f" forceDeleteTenantAllowed true
		set_conf "$f" numHttpServerThreads 8
		set_conf "$f" managedLedgerCacheSizeMB 64
	done
}

# launch NAME MEM ARGS...: start `bin/pulsar ARGS` for component NAME in its
# own session (setsid), logging to logs/NAME.log, and record its pid.
launch() {
	local name="$1" mem="$2" home
	shift 2
	home="$("$HERE/broker.sh" home)"
	mkdir -p "$RUN_DIR/logs/$name"
	(
		exec 9>&- # the lock must not outlive this script
		cd "$RUN_DIR"
		export PP_CLUSTER_COMPONENT="$RUN_DIR/$name"
		export PULSAR_LOG_DIR="$RUN_DIR/logs/$name"
		export PULSAR_LOG_FILE="$name.log"
		export PULSAR_MEM="$mem" BOOKIE_MEM="$mem"
		export PULSAR_GC="$JVM_GC" BOOKIE_GC="$JVM_GC"
		export PULSAR_GC_LOG=" " BOOKIE_GC_LOG=" "
		export PULSAR_BROKER_CONF="$(conf_of "$name")"
		export PULSAR_BOOKKEEPER_CONF="$(conf_of "$name")"
		export PULSAR_ZK_CONF="$(conf_of "$name")"
		exec setsid "$home/bin/pulsar" "$@" </dev/null >>"$RUN_DIR/logs/$name.out" 2>&1
	) &
	echo $! >"$RUN_DIR/$name.pid"
}

zk_ready() {
	local reply
	reply="$(
		exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$ZK_PORT" || exit 1
		printf 'ruok' >&3
		timeout 2 cat <&3
	)" || return 1
	[[ "$reply" == imok ]]
}

# broker_ready N: broker N answers its admin API, knows public/default, and
# the cluster lists it among the active brokers.
broker_ready() {
	local web body
	web="$(web_port "$1")"
	body="$(curl -fsS --max-time 3 "http://127.0.0.1:$web/admin/v2/namespaces/public" 2>/dev/null)" || return 1
	[[ "$body" == *'"public/default"'* ]] || return 1
	body="$(curl -fsS --max-time 3 "http://127.0.0.1:$web/admin/v2/brokers/$CLUSTER_NAME" 2>/dev/null)" || return 1
	[[ "$body" == *"127.0.0.1:$web"* ]]
}

# wait_for WHAT PIDNAME CHECK...: poll CHECK until it succeeds, failing if
# the component's process dies or START_TIMEOUT passes.
wait_for() {
	local what="$1" name="$2" start=$SECONDS
	shift 2
	local pid
	pid="$(cat "$RUN_DIR/$name.pid")"
	until "$@"; do
		# Not owned_pid: until bin/pulsar execs java, the command line is
		# this script's.
		if ! alive "$pid"; then
			log "$what: the process exited; last lines of $RUN_DIR/logs/$name.out and .log:"
			tail -n 30 "$RUN_DIR/logs/$name.out" >&2 || true
			tail -n 30 "$RUN_DIR/logs/$name/$name.log" >&2 2>/dev/null || true
			return 1
		fi
		if ((SECONDS - start >= START_TIMEOUT)); then
			log "$what: not ready after ${START_TIMEOUT}s"
			tail -n 30 "$RUN_DIR/logs/$name/$name.log" >&2 2>/dev/null || true
			return 1
		fi
		sleep 0.3
	done
}

lock() {
	mkdir -p "$PP_CACHE"
	exec 9>"$LOCK_FILE"
	flock -w "$((START_TIMEOUT + 120))" 9 || die "could not lock $LOCK_FILE"
}

all_ready() { broker_ready 1 && broker_ready 2; }

# stop_one NAME SIGNAL: signal component NAME's process group, wait for it
# (SIGKILL after STOP_TIMEOUT), remove its pid file.
stop_one() {
	local name="$1" sig="$2" pid start=$SECONDS
	pid="$(owned_pid "$name")" || {
		rm -f "$RUN_DIR/$name.pid"
		return 0
	}
	kill "-$sig" -- "-$pid" 2>/dev/null || kill "-$sig" "$pid" 2>/dev/null || true
	while alive "$pid"; do
		if ((SECONDS - start >= STOP_TIMEOUT)); then
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		fi
		sleep 0.1
	done
	rm -f "$RUN_DIR/$name.pid"
}

cmd_stop() {
	local n
	for n in broker1 broker2 bookie zk; do
		stop_one "$n" TERM
	done
	echo "stopped"
}

cmd_start() {
	lock
	if all_ready && owned_pid zk >/dev/null && owned_pid bookie >/dev/null; then
		echo "already running"
		return 0
	fi
	# A half-started cluster of ours is stopped and started afresh.
	cmd_stop >/dev/null
	local p
	for p in "$ZK_PORT" "$BOOKIE_PORT" "$B1_PORT" "$B2_PORT" "$B1_WEB" "$B2_WEB" "$B1_PROXY" "$B2_PROXY"; do
		port_in_use "$p" && die "port $p is taken by a process this script did not start"
	done
	local home t0 ms
	home="$("$HERE/broker.sh" install)"
	rm -rf "$RUN_DIR/data" "$RUN_DIR/logs"
	mkdir -p "$RUN_DIR/data" "$RUN_DIR/logs"
	write_confs "$home"
	t0="$(date +%s%N)"

	launch zk "$ZK_MEM" zookeeper
	wait_for zookeeper zk zk_ready || {
		cmd_stop >/dev/null
		return 1
	}
	log "zookeeper ready after $((($(date +%s%N) - t0) / 1000000)) ms"
	local out
	if ! out="$(cd "$RUN_DIR" && PULSAR_LOG_DIR="$RUN_DIR/logs/init" PULSAR_MEM="$TOOL_MEM" PULSAR_GC="$JVM_GC" PULSAR_GC_LOG=" " \
		"$home/bin/pulsar" initialize-cluster-metadata \
		--cluster "$CLUSTER_NAME" \
		--metadata-store "zk:127.0.0.1:$ZK_PORT" \
		--configuration-metadata-store "zk:127.0.0.1:$ZK_PORT" \
		--web-service-url "http://127.0.0.1:$B1_WEB,127.0.0.1:$B2_WEB" \
		--broker-service-url "pulsar://127.0.0.1:$B1_PORT,127.0.0.1:$B2_PORT" 2>&1)"; then
		printf '%s\n' "$out" | tail -n 30 >&2
		cmd_stop >/dev/null
		die "initialize-cluster-metadata failed"
	fi
	log "metadata initialized after $((($(date +%s%N) - t0) / 1000000)) ms"
	launch bookie "$BOOKIE_MEM" bookie
	# The brokers wait for the bookie themselves when they open a ledger;
	# starting them at once saves a JVM start.
	launch broker1 "$BROKER_MEM" broker
	launch broker2 "$BROKER_MEM" broker
	if ! wait_for "broker 1" broker1 broker_ready 1 || ! wait_for "broker 2" broker2 broker_ready 2; then
		cmd_stop >/dev/null
		return 1
	fi
	ms=$((($(date +%s%N) - t0) / 1000000))
	printf 'cluster ready in %d.%03ds (zk %s, bookie %s, broker1 %s, broker2 %s)\n' $((ms / 1000)) $((ms % 1000)) \
		"$(owned_pid zk)" "$(owned_pid bookie)" "$(owned_pid broker1)" "$(owned_pid broker2)"
}

check_n() { [[ "${1:-}" == 1 || "${1:-}" == 2 ]] || die "want broker number 1 or 2, got '${1:-}'"; }

cmd_kill_broker() {
	check_n "$1"
	local pid
	pid="$(owned_pid "broker$1")" || die "broker $1 is not running (or not ours)"
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
	while alive "$pid"; do sleep 0.05; done
	rm -f "$RUN_DIR/broker$1.pid"
	echo "killed broker $1 (pid $pid)"
}

cmd_restart_broker() {
	check_n "$1"
	lock
	owned_pid zk >/dev/null || die "the cluster is not running"
	local t0 ms
	if owned_pid "broker$1" >/dev/null; then
		# Running (perhaps busy taking over the other broker's topics):
		# wait for it rather than start a second one.
		wait_for "broker $1" "broker$1" broker_ready "$1" || return 1
		echo "broker $1 is running"
		return 0
	fi
	t0="$(date +%s%N)"
	launch "broker$1" "$BROKER_MEM" broker
	wait_for "broker $1" "broker$1" broker_ready "$1" || return 1
	ms=$((($(date +%s%N) - t0) / 1000000))
	printf 'broker %s ready in %d.%03ds (pid %s)\n' "$1" $((ms / 1000)) $((ms % 1000)) "$(owned_pid "broker$1")"
}

main() {
	case "${1:-help}" in
	start) cmd_start ;;
	stop)
		lock
		cmd_stop
		;;
	status)
		if all_ready; then
			echo "ready"
		else
			echo "not ready"
			exit 1
		fi
		;;
	kill-broker) cmd_kill_broker "${2:-}" ;;
	restart-broker) cmd_restart_broker "${2:-}" ;;
	ports)
		cat <<EOF
CLUSTER_NAME=$CLUSTER_NAME
ZK_PORT=$ZK_PORT
BOOKIE_PORT=$BOOKIE_PORT
B1_PORT=$B1_PORT
B2_PORT=$B2_PORT
B1_WEB=$B1_WEB
B2_WEB=$B2_WEB
B1_PROXY=$B1_PROXY
B2_PROXY=$B2_PROXY
RUN_DIR=$RUN_DIR
EOF
		;;
	help | -h | --help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
