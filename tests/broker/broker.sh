#!/usr/bin/env bash
# broker.sh: run a throw-away Apache Pulsar standalone broker for the tests.
#
# How this works:
#   * The Pulsar server distribution is fetched with Maven (it is an ordinary
#     artifact, org.apache.pulsar:pulsar-server-distribution:<version>:tar.gz:bin)
#     into a cache directory outside the repository and extracted there. The
#     extracted distribution is never modified.
#   * "start" writes a test copy of conf/standalone.conf into a run directory
#     under the cache (loopback addresses, fast shutdown, ...), wipes the
#     previous run's data, and launches `bin/pulsar standalone` in its own
#     session with data, metadata and logs kept in the run directory. The pid
#     is recorded in a pid file; only that pid is ever stopped.
#   * Readiness = the admin REST API lists the namespace public/default
#     (GET /admin/v2/namespaces/public). /metrics answers earlier and is not
#     a readiness signal.
#   * The test configuration (write_conf) also makes delayed delivery exact,
#     keeps idle topics, and allows force-deleting namespaces. The standalone
#     bookie listens on a random port (0.0.0.0), not 3181.
#   * Concurrent "start"/"install" calls (e.g. several `go test` packages at once) are
#     serialised with flock(1) on a lock file in the cache.
#
# Ports are the Pulsar defaults: 6650 (binary protocol) and 8080 (HTTP admin).
set -euo pipefail

PULSAR_VERSION="${PULSAR_VERSION:-4.0.8}"
PP_CACHE="${PP_CACHE:-$HOME/.cache/pulsar-producer}"
DIST_DIR="$PP_CACHE/dist"
PULSAR_HOME="$DIST_DIR/apache-pulsar-$PULSAR_VERSION"
TARBALL="$DIST_DIR/pulsar-server-distribution-$PULSAR_VERSION-bin.tar.gz"
RUN_DIR="$PP_CACHE/run"
PID_FILE="$RUN_DIR/broker.pid"
LOG_DIR="$RUN_DIR/logs"
LOG_FILE="$LOG_DIR/broker.log"
CONF_FILE="$RUN_DIR/standalone.conf"
LOCK_FILE="$PP_CACHE/broker.lock"
ADMIN_URL="http://127.0.0.1:8080"
START_TIMEOUT="${PP_BROKER_START_TIMEOUT:-120}"
STOP_TIMEOUT="${PP_BROKER_STOP_TIMEOUT:-20}"
BROKER_MEM="${PULSAR_MEM:--Xms512m -Xmx1g -XX:MaxDirectMemorySize=1g}"
# G1 without -XX:+AlwaysPreTouch starts ~2 s faster than the distribution's
# default (ZGC + AlwaysPreTouch) on a small machine.
BROKER_GC="${PULSAR_GC:--XX:+UseG1GC -XX:+PerfDisableSharedMem}"

usage() {
	cat <<EOF
Usage: $(basename "$0") <command>

Runs a local Apache Pulsar $PULSAR_VERSION standalone broker for the tests
(pulsar://127.0.0.1:6650, $ADMIN_URL).

Commands:
  install   Download (with mvn) and extract the Pulsar distribution into the
            cache if it is not there yet; print PULSAR_HOME.
  start     Install if needed, then start a fresh broker (data of the previous
            run is wiped) and wait until it is ready. If a broker already
            answers on $ADMIN_URL, print "already running" and do nothing.
  stop      Stop the broker started by this script (pid file); other brokers
            are never touched.
  status    Exit 0 if a broker is ready on $ADMIN_URL, 1 otherwise.
  wait      Wait until a broker is ready (same timeout as start).
  home      Print PULSAR_HOME (without installing).
  help      Show this text.

Environment:
  PULSAR_VERSION           Pulsar version (default 4.0.8)
  PP_CACHE                 cache directory (default \$HOME/.cache/pulsar-producer)
  PP_BROKER_START_TIMEOUT  seconds to wait for readiness (default 120)
  PP_BROKER_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 20)
  PULSAR_MEM               JVM memory flags (default: -Xms512m -Xmx1g -XX:MaxDirectMemorySize=1g)
  PULSAR_GC                JVM GC flags (default: -XX:+UseG1GC -XX:+PerfDisableSharedMem;
                           adding -XX:TieredStopAtLevel=1 starts ~3 s faster but
                           runs slower)

Files (under the cache):
  dist/apache-pulsar-<version>/   extracted distribution (kept pristine)
  run/standalone.conf             test configuration of the current run
  run/data/                       BookKeeper and metadata data of the current run
  run/logs/broker.log             broker output (run/logs also gets GC logs)
  run/broker.pid                  pid of the broker this script started
EOF
}

log() { printf 'broker.sh: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

# ready: the admin API lists public/default.
ready() {
	local body
	body="$(curl -fsS --max-time 3 "$ADMIN_URL/admin/v2/namespaces/public" 2>/dev/null)" || return 1
	[[ "$body" == *'"public/default"'* ]]
}

# port_in_use PORT: something accepts connections on 127.0.0.1:PORT.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# alive PID: the process exists and is not a zombie.
alive() {
	local state
	state="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
	[[ -n "$state" && "$state" != Z* ]]
}

# owned_pid: print the pid from the pid file if that process is still the
# broker this script started (checked through its command line).
owned_pid() {
	[[ -f "$PID_FILE" ]] || return 1
	local pid
	pid="$(cat "$PID_FILE")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[[ -r "/proc/$pid/cmdline" ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "PulsarStandaloneStarter" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$CONF_FILE" || return 1
	printf '%s\n' "$pid"
}

cmd_install() {
	if [[ ! -x "$PULSAR_HOME/bin/pulsar" || ! -f "$PULSAR_HOME/.pp-installed" ]]; then
		mkdir -p "$DIST_DIR"
		if [[ ! -s "$TARBALL" ]]; then
			command -v mvn >/dev/null || die "mvn not found (needed to fetch the Pulsar distribution)"
			log "fetching pulsar-server-distribution $PULSAR_VERSION with mvn"
			local out
			if ! out="$(mvn -q -B -Dstyle.color=never \
				org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
				"-Dartifact=org.apache.pulsar:pulsar-server-distribution:$PULSAR_VERSION:tar.gz:bin" \
				"-DoutputDirectory=$DIST_DIR" 2>&1)"; then
				printf '%s\n' "$out" >&2
				die "mvn could not fetch pulsar-server-distribution $PULSAR_VERSION"
			fi
			[[ -s "$TARBALL" ]] || die "mvn did not produce $TARBALL"
		fi
		log "extracting $TARBALL"
		local tmp
		tmp="$(mktemp -d "$DIST_DIR/extract.XXXXXX")"
		tar -xzf "$TARBALL" -C "$tmp"
		[[ -x "$tmp/apache-pulsar-$PULSAR_VERSION/bin/pulsar" ]] || die "unexpected tarball layout in $TARBALL"
		rm -rf "$PULSAR_HOME"
		mv "$tmp/apache-pulsar-$PULSAR_VERSION" "$PULSAR_HOME"
		rmdir "$tmp"
		touch "$PULSAR_HOME/.pp-installed"
	fi
	printf '%s\n' "$PULSAR_HOME"
}

# set_conf KEY VALUE: replace KEY's line in the run's conf, or append it.
# Keys must stay unique: the standalone bookie reads the same file and turns
# duplicated keys into lists.
set_conf() {
	local key="$1" value="$2"
	if grep -q "^${key}=" "$CONF_FILE"; then
		sed -i "s|^${key}=.*|${key}=${value}|" "$CONF_FILE"
	else
		# A file without a final newline would join the key to its last line.
		[ -z "$(tail -c1 "$CONF_FILE")" ] || echo >>"$CONF_FILE"
		printf '%s=%s\n' "$key" "$value" >>"$CONF_FILE"
	fi
}

write_conf() {
	cp "$PULSAR_HOME/conf/standalone.conf" "$CONF_FILE"
	set_conf advertisedAddress 127.0.0.1
	set_conf bindAddress 127.0.0.1
	set_conf brokerShutdownTimeoutMs 3000
	# Topics created by a test must survive while an external consumer
	# (a JVM) starts; do not garbage-collect idle topics.
	set_conf brokerDeleteInactiveTopicsEnabled false
	set_conf allowAutoTopicCreation true
	set_conf topicLevelPoliciesEnabled true
	set_conf systemTopicEnabled true
	# Never deliver a delayed message before its deliverAt time (by default
	# the broker may deliver up to one tick early), and tick finer than the
	# default 1 s so delays stay accurate.
	set_conf isDelayedDeliveryDeliverAtTimeStrict true
	set_conf delayedDeliveryTickTimeMillis 100
	# Let tests drop their namespaces (and the system topics in them).
	set_conf forceDeleteNamespaceAllowed true
	set_conf forceDeleteTenantAllowed true
}

wait_ready() {
	local timeout="$1" pid="${2:-}" start=$SECONDS
	while ! ready; do
		if [[ -n "$pid" ]] && ! alive "$pid"; then
			log "broker process $pid exited during startup; last 50 log lines:"
			tail -n 50 "$LOG_FILE" >&2 || true
			rm -f "$PID_FILE"
			return 1
		fi
		if ((SECONDS - start >= timeout)); then
			if [[ -n "$pid" ]]; then
				log "broker not ready after ${timeout}s; last 50 log lines of $LOG_FILE:"
				tail -n 50 "$LOG_FILE" >&2 || true
			else
				log "no broker ready on $ADMIN_URL after ${timeout}s"
			fi
			return 1
		fi
		sleep 0.5
	done
}

# lock: hold the cache lock (fd 9) until this script exits.
lock() {
	mkdir -p "$PP_CACHE"
	exec 9>"$LOCK_FILE"
	flock -w "$((START_TIMEOUT + 300))" 9 || die "could not lock $LOCK_FILE"
}

cmd_start() {
	lock

	if ready; then
		echo "already running"
		return 0
	fi
	local pid
	if pid="$(owned_pid)"; then
		log "broker $pid (started by this script) is starting; waiting"
		wait_ready "$START_TIMEOUT" "$pid"
		echo "running (pid $pid)"
		return 0
	fi
	if port_in_use 8080 || port_in_use 6650; then
		log "ports 8080/6650 are taken by a process this script did not start; waiting for it to become ready"
		wait_ready "$START_TIMEOUT"
		echo "already running"
		return 0
	fi

	cmd_install >/dev/null
	rm -f "$PID_FILE"
	rm -rf "$RUN_DIR/data" "$LOG_DIR"
	mkdir -p "$RUN_DIR/data" "$LOG_DIR"
	write_conf

	local t0 ms
	t0="$(date +%s%N)"
	# bin/pulsar cds into PULSAR_HOME and execs java, so the pid of the
	# background job is the broker JVM; setsid gives it its own process
	# group so stop can signal everything it may have spawned.
	(
		exec 9>&- # the lock must not outlive this script
		cd "$RUN_DIR"
		export PULSAR_STANDALONE_CONF="$CONF_FILE"
		export PULSAR_LOG_DIR="$LOG_DIR"
		export PULSAR_MEM="$BROKER_MEM"
		export PULSAR_GC="$BROKER_GC"
		exec setsid "$PULSAR_HOME/bin/pulsar" standalone \
			--config "$CONF_FILE" \
			--no-functions-worker --no-stream-storage \
			--advertised-address 127.0.0.1 \
			--bookkeeper-dir "$RUN_DIR/data/bookkeeper" \
			--metadata-dir "$RUN_DIR/data/metadata" \
			</dev/null >>"$LOG_FILE" 2>&1
	) &
	pid=$!
	echo "$pid" >"$PID_FILE"
	log "started broker pid $pid (log: $LOG_FILE)"
	if ! wait_ready "$START_TIMEOUT" "$pid"; then
		if alive "$pid"; then
			log "stopping the broker that did not become ready (pid $pid)"
			kill_broker "$pid"
		fi
		return 1
	fi
	ms=$((($(date +%s%N) - t0) / 1000000))
	printf 'broker ready in %d.%03ds (pid %s)\n' $((ms / 1000)) $((ms % 1000)) "$pid"
}

# kill_broker PID: SIGTERM the broker's process group, SIGKILL it after
# STOP_TIMEOUT seconds. Only called with a pid that owned_pid vouched for or
# that this invocation just started.
kill_broker() {
	local pid="$1" start=$SECONDS
	# The broker leads its own process group (setsid): signal the group so
	# that any child process goes too.
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	while alive "$pid"; do
		if ((SECONDS - start >= STOP_TIMEOUT)); then
			log "broker $pid still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
			local waited=0
			while alive "$pid" && ((waited < 10)); do
				sleep 0.2
				waited=$((waited + 1))
			done
			break
		fi
		sleep 0.2
	done
	# Stragglers left in the group, if any.
	if pgrep -g "$pid" >/dev/null 2>&1; then
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	rm -f "$PID_FILE"
}

cmd_stop() {
	local pid start=$SECONDS
	if ! pid="$(owned_pid)"; then
		rm -f "$PID_FILE"
		echo "no broker started by this script is running"
		return 0
	fi
	log "stopping broker pid $pid"
	kill_broker "$pid"
	echo "stopped (pid $pid, $((SECONDS - start))s)"
}

main() {
	local cmd="${1:-help}"
	case "$cmd" in
	install)
		lock
		cmd_install
		;;
	start) cmd_start ;;
	stop) cmd_stop ;;
	status)
		if ready; then
			echo "ready"
		else
			echo "not ready"
			exit 1
		fi
		;;
	wait)
		local pid=""
		pid="$(owned_pid)" || true
		wait_ready "$START_TIMEOUT" "$pid"
		echo "ready"
		;;
	home) printf '%s\n' "$PULSAR_HOME" ;;
	help | -h | --help) usage ;;
	*)
		usage >&2
		exit 2
		;;
	esac
}

main "$@"
