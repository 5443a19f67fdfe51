/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mbus-bench: measures a broker, and the machine it runs on, in one run so that the targets
 * can be stated as ratios in which machine noise cancels.
 *
 * Scenarios (each one run --runs times, in the order of enum bench_scenario within each run, so
 * that a peer's figures come from the same runs as mbus's; every figure is reported as the
 * median over the runs, with the minimum and maximum; losses count in the worst run):
 *   floor          two processes ping-pong 64 bytes over a socketpair, no broker: the round
 *                  trip any bus must add its own work to (scenario-floor.c)
 *   rpc-seq        one caller, one echo service in another process, sequential mbus_call()s
 *                  with {"seq":N,"data":"<64 x>"}: calls/s, latency p50/p99, and the broker's
 *                  CPU time per call (scenario-rpc.c, echo.c)
 *   rpc-pipelined  the same with 64 calls outstanding through mbus_call_async()
 *   rpc-callers    1, 4 and 16 callers at once against the one echo service
 *   rpc-seq-ws     (--transport ws) rpc-seq with the caller on WebSocket (scenario-ws.c, ws.c)
 *   rpc-seq-compat (--transport compat) rpc-seq in the original mBus protocol on the compat+unix
 *                  listener, beside native rpc-seq on the same broker (scenario-compat.c)
 *   fanout         one publisher, 8 subscriber processes, 100,000 events of ~100 bytes, each
 *                  checked by sequence number (scenario-fanout.c, fanout-check.c)
 *   fanout-scale   the same with 1, 8, 64 and 256 subscribers
 *   fanout-slow    one slow subscriber: the broker's drop count against what it missed
 *   fanout-ws      (--transport ws) fanout with the subscribers on WebSocket (scenario-ws.c)
 *   idle           1k/5k/10k idle peers: memory, connect rate, teardown, SIGTERM (scenario-idle.c)
 *   dbus, dbus-broker, nats   (--peer) the rpc and fanout scenarios against dbus-daemon,
 *                  dbus-broker and nats-server (peer-dbus.c, peer-nats.c)
 *   mbus-orig      (--peer) rpc-seq-compat's calls against the original mBus broker (peer-orig.c)
 *   tls            (--scenario tls) rpc-seq and fanout over TLS, handshakes, against openssl
 *                  (scenario-tls.c, tls.c)
 * stats.c keeps the figures, report.c judges the targets and prints them; util.c and broker.c
 * hold the helper processes and the brokers.
 *
 * Without --address every scenario run gets a fresh mbus-broker of its own on a socket in a
 * temporary directory (so idle memory is not flattered by memory freed by an earlier run);
 * with --address it uses that broker and finds its pid with SO_PEERCRED (a tcp:// or tls://
 * address, passed through to libmbus, tells no pid: no broker CPU figures, no idle). A ws://
 * or wss:// address runs rpc-seq and fanout with every peer on that WebSocket listener.
 *
 * Every helper process is forked before the parent opens a connection, reports "ready" and
 * its results through a pipe, and exits when the pipe's other end closes: nothing depends on
 * sleeps, and nothing outlives the benchmark.
 */

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <mbus/mbus.h>

#include "config.h"
#include "proto/names.h"
#include "tools/bench/bench.h"
#include "tools/bench/ws.h"
#include "tools/tool-util.h"
#include "util/fd-util.h"
#include "util/json-util.h"
#include "util/macro.h"
#include "util/time-util.h"

const char *const bench_scenario_names[_BENCH_SCENARIO_MAX] = {
        [BENCH_FLOOR] = "floor",
        [BENCH_RPC_SEQ] = "rpc-seq",
        [BENCH_RPC_PIPELINED] = "rpc-pipelined",
        [BENCH_RPC_CALLERS] = "rpc-callers",
        [BENCH_RPC_SEQ_WS] = "rpc-seq-ws",
        [BENCH_RPC_SEQ_COMPAT] = "rpc-seq-compat",
        [BENCH_FANOUT] = "fanout",
        [BENCH_FANOUT_SCALE] = "fanout-scale",
        [BENCH_FANOUT_SLOW] = "fanout-slow",
        [BENCH_FANOUT_WS] = "fanout-ws",
        [BENCH_IDLE] = "idle",
        [BENCH_DBUS] = "dbus",
        [BENCH_DBUS_BROKER] = "dbus-broker",
        [BENCH_NATS] = "nats",
        [BENCH_MBUS_ORIG] = "mbus-orig",
        [BENCH_TLS] = "tls",
};

/* Not in the default set: they need another program (dbus-daemon, dbus-broker, nats-server;
 * openssl) and take longer. */
#define BENCH_SCENARIOS_PEERS ((1u << BENCH_DBUS) | (1u << BENCH_DBUS_BROKER) | (1u << BENCH_NATS) | \
                               (1u << BENCH_MBUS_ORIG))
#define BENCH_SCENARIOS_WS ((1u << BENCH_RPC_SEQ_WS) | (1u << BENCH_FANOUT_WS))
#define BENCH_SCENARIOS_OPTIONAL (BENCH_SCENARIOS_PEERS | (1u << BENCH_TLS) | BENCH_SCENARIOS_WS | \
                                  (1u << BENCH_RPC_SEQ_COMPAT))
/* Scenarios that start brokers of their own whatever --address says. */
#define BENCH_SCENARIOS_OWN_BROKER ((1u << BENCH_FANOUT_SLOW) | (1u << BENCH_TLS) | BENCH_SCENARIOS_WS)
/* What runs with --address ws://: the two with WebSocket peers, and those with brokers of their own. */
#define BENCH_SCENARIOS_WS_ADDRESS ((1u << BENCH_FLOOR) | (1u << BENCH_RPC_SEQ) | (1u << BENCH_FANOUT) | \
                                    BENCH_SCENARIOS_OWN_BROKER | BENCH_SCENARIOS_PEERS)

const char *arg_address = NULL;
const char *arg_broker = NULL;
bool arg_json = false;
uint64_t arg_runs = 1;
unsigned arg_scenarios = 0;      /* bit per enum bench_scenario; 0: the default set */
uint64_t arg_calls = 20000;
uint64_t arg_window = 64;
uint64_t arg_events = 100000;
uint64_t arg_subscribers = 8;
uint64_t arg_pace = 0;
uint64_t arg_idle = 1000;
uint64_t arg_idle_sizes[8] = { 1000, 5000, 10000 };
size_t arg_n_idle_sizes = 3;
static const char *arg_tls_cert = NULL;         /* the client's; handed to libmbus as $MBUS_TLS_* */
static const char *arg_tls_key = NULL;
static const char *arg_tls_ca = NULL;
static const char *arg_broker_tls_cert = NULL;
static const char *arg_broker_tls_key = NULL;
uint64_t arg_tls_seconds = 2;
const char *arg_compat_address = NULL;
const char *arg_orig_broker = NULL;
bool arg_ws_json = false;
#ifndef MBUS_BENCH_NATS
int bench_nats(struct bench *b) {
        tool_error("nats: this mbus-bench was built without libnats");
        return -EOPNOTSUPP;
}
#endif

static int bench_run_scenario(struct bench *b, enum bench_scenario s) {
        struct bench_broker bb = {};
        const char *address = arg_address;
        int r;

        switch (s) {
        case BENCH_FLOOR:
                return bench_floor(b);
        case BENCH_FANOUT_SLOW:
                return bench_fanout_slow(b);
        case BENCH_RPC_SEQ_WS:
                return bench_rpc_seq_ws(b);
        case BENCH_RPC_SEQ_COMPAT:
                return bench_rpc_seq_compat(b);
        case BENCH_MBUS_ORIG:
                return bench_mbus_orig(b);
        case BENCH_FANOUT_WS:
                return bench_fanout_ws(b);
        case BENCH_IDLE:
                return bench_idle(b);
        case BENCH_DBUS:
                return bench_dbus(b, BENCH_DBUS_DAEMON);
        case BENCH_DBUS_BROKER:
                return bench_dbus(b, BENCH_DBUS_BROKER_LAUNCH);
        case BENCH_NATS:
                return bench_nats(b);
        case BENCH_TLS:
                return bench_tls(b);
        default:
                break;
        }

        /* every peer on the WebSocket listener (parse_argv() let only these two through) */
        if (bench_address_is_ws(address))
                return s == BENCH_RPC_SEQ ? bench_ws_rpc_seq(b, address) : bench_ws_fanout(b, address);

        if (!address) {
                r = bench_broker_start(&bb, b->broker_path, /* tls= */ NULL, /* extra_args= */ NULL);
                if (r < 0) {
                        tool_error("cannot start %s: %s", b->broker_path,
                                   r == -ECHILD ? "it exited at once" : strerror(-r));
                        return r;
                }
                address = bb.address;
        }

        switch (s) {
        case BENCH_RPC_SEQ:
                r = bench_rpc_seq(b, address);
                break;
        case BENCH_RPC_PIPELINED:
                r = bench_rpc_pipelined(b, address);
                break;
        case BENCH_RPC_CALLERS:
                r = bench_rpc_callers(b, address);
                break;
        case BENCH_FANOUT:
                r = bench_fanout(b, address);
                break;
        case BENCH_FANOUT_SCALE:
                r = bench_fanout_scale(b, address);
                break;
        default:
                assert(false);
                r = -EINVAL;
        }
        bench_broker_stop(&bb);
        return r;
}
static double read_loadavg(void) {
        double v = NAN;
        FILE *f = fopen("/proc/loadavg", "re");

        if (f) {
                if (fscanf(f, "%lf", &v) != 1)
                        v = NAN;
                fclose(f);
        }
        return v;
}

static void raise_fd_limit(uint64_t need) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
                rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : MIN((rlim_t) need, rl.rlim_max);
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}
/* ---- command line ------------------------------------------------------------------------ */

static void help(void) {
        printf("Usage: %s [OPTIONS]\n"
               "       %s [--address ADDRESS] serve-echo NAMESPACE\n"
               "\n"
               "Benchmark the mbus broker and compare it with targets measured in the same run.\n"
               "serve-echo serves NAMESPACE with a procedure Echo that returns its arguments,\n"
               "until SIGTERM or SIGINT (exit 0) or until the connection to the broker breaks\n"
               "(exit 1, for Restart=on-failure).\n"
               "\n"
               "  -h --help              Show this help and exit\n"
               "     --version           Show the version and exit\n"
               "  -a --address ADDRESS   Measure the broker at ADDRESS instead of starting one;\n"
               "                         given again as compat+unix:PATH, that broker's compat\n"
               "                         listener, for rpc-seq-compat; ws://HOST:PORT or\n"
               "                         wss://HOST:PORT: rpc-seq and fanout with every peer on\n"
               "                         that WebSocket listener\n"
               "     --broker PATH       The mbus-broker binary to start (default: $MBUS_BROKER,\n"
               "                         else the one of the build tree or next to mbus-bench)\n"
               "  -s --scenario NAME     Run scenario NAME (repeatable): floor, rpc-seq,\n"
               "                         rpc-pipelined, rpc-callers, rpc-seq-ws, rpc-seq-compat,\n"
               "                         fanout, fanout-scale, fanout-slow, fanout-ws, idle,\n"
               "                         dbus, dbus-broker, nats, mbus-orig, tls (default: all\n"
               "                         but rpc-seq-ws, fanout-ws, rpc-seq-compat, the peers,\n"
               "                         tls; with a ws:// --address: rpc-seq, fanout)\n"
               "     --peer PEER         Also run PEER's scenario (repeatable): dbus-daemon\n"
               "                         (or dbus), dbus-broker, nats, mbus-orig (with\n"
               "                         rpc-seq-compat)\n"
               "     --transport ws      Also run rpc-seq-ws (the caller on WebSocket) and\n"
               "                         fanout-ws (the subscribers on WebSocket) on a broker of\n"
               "                         their own, with the UNIX socket's figures and ratios\n"
               "     --transport compat  Also run rpc-seq in the original mBus protocol\n"
               "     --ws-json           WebSocket peers send JSON text messages (default:\n"
               "                         binary frames, as mbus.js)\n"
               "     --orig-broker PATH  mbus-orig: the original's mbus-broker (default:\n"
               "                         $MBUS_ORIG_BROKER; tools/bench/build-orig.sh builds it)\n"
               "  -r --runs N            Run every scenario N times, report medians, min, max (1)\n"
               "  -j --json              Print one JSON object instead of a table\n"
               "     --calls N           Calls in floor, the rpc scenarios and the peers (20000)\n"
               "     --window N          Calls outstanding in rpc-pipelined (64)\n"
               "     --events N          Events published in fanout (100000)\n"
               "     --subscribers N     Subscriber processes in fanout (8)\n"
               "     --pace N            fanout: wait for a PONG every N events, 0: never (0)\n"
               "     --idle-peers N,...  Connections in idle, one broker each (1000,5000,10000)\n"
               "     --tls-cert FILE     Client certificate for a tls:// or wss:// --address, PEM\n"
               "     --tls-key FILE      Its private key, PEM\n"
               "     --tls-ca FILE       CA bundle the broker's certificate must chain to\n"
               "     --broker-tls-cert FILE  tls: the broker's certificate, PEM; with its\n"
               "     --broker-tls-key FILE   key and the three above (default: made with openssl)\n"
               "     --tls-seconds N     tls: seconds of each handshake measurement (2)\n",
               program_invocation_short_name, program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_BROKER,
                ARG_PEER,
                ARG_TRANSPORT,
                ARG_CALLS,
                ARG_WINDOW,
                ARG_EVENTS,
                ARG_SUBSCRIBERS,
                ARG_PACE,
                ARG_IDLE,
                ARG_TLS_CERT,
                ARG_TLS_KEY,
                ARG_TLS_CA,
                ARG_BROKER_TLS_CERT,
                ARG_BROKER_TLS_KEY,
                ARG_TLS_SECONDS,
                ARG_ORIG_BROKER,
                ARG_WS_JSON,
        };
        static const struct option options[] = {
                { "help",        no_argument,       NULL, 'h'             },
                { "version",     no_argument,       NULL, ARG_VERSION     },
                { "address",     required_argument, NULL, 'a'             },
                { "broker",      required_argument, NULL, ARG_BROKER      },
                { "scenario",    required_argument, NULL, 's'             },
                { "peer",        required_argument, NULL, ARG_PEER        },
                { "transport",   required_argument, NULL, ARG_TRANSPORT   },
                { "runs",        required_argument, NULL, 'r'             },
                { "json",        no_argument,       NULL, 'j'             },
                { "calls",       required_argument, NULL, ARG_CALLS       },
                { "window",      required_argument, NULL, ARG_WINDOW      },
                { "events",      required_argument, NULL, ARG_EVENTS      },
                { "subscribers", required_argument, NULL, ARG_SUBSCRIBERS },
                { "pace",        required_argument, NULL, ARG_PACE        },
                { "idle-peers",  required_argument, NULL, ARG_IDLE        },
                { "tls-cert",    required_argument, NULL, ARG_TLS_CERT    },
                { "tls-key",     required_argument, NULL, ARG_TLS_KEY     },
                { "tls-ca",      required_argument, NULL, ARG_TLS_CA      },
                { "broker-tls-cert", required_argument, NULL, ARG_BROKER_TLS_CERT },
                { "broker-tls-key",  required_argument, NULL, ARG_BROKER_TLS_KEY  },
                { "tls-seconds", required_argument, NULL, ARG_TLS_SECONDS },
                { "orig-broker", required_argument, NULL, ARG_ORIG_BROKER },
                { "ws-json",     no_argument,       NULL, ARG_WS_JSON     },
                {}
        };
        static const struct {
                int option;
                const char *name;
                uint64_t *value, min, max;
        } numbers[] = {
                { 'r',             "--runs",        &arg_runs,        1, BENCH_MAX_RUNS },
                { ARG_CALLS,       "--calls",       &arg_calls,       1, 100000000      },
                { ARG_WINDOW,      "--window",      &arg_window,      1, 100000         },
                { ARG_EVENTS,      "--events",      &arg_events,      1, 100000000      },
                { ARG_SUBSCRIBERS, "--subscribers", &arg_subscribers, 1, 1000           },
                { ARG_PACE,        "--pace",        &arg_pace,        0, 100000000      },
                { ARG_TLS_SECONDS, "--tls-seconds", &arg_tls_seconds, 1, 3600           },
        };
        unsigned extra = 0;     /* --peer and --transport: on top of the named or the default set */
        int c;

        while ((c = getopt_long(argc, argv, "ha:s:r:j", options, NULL)) >= 0) {
                bool found = false;

                for (size_t i = 0; i < ELEMENTSOF(numbers); i++)
                        if (numbers[i].option == c) {
                                if (tool_parse_uint(optarg, numbers[i].min, numbers[i].max, numbers[i].value) < 0) {
                                        tool_error("invalid %s '%s': expected an integer in %" PRIu64 "..%" PRIu64,
                                                   numbers[i].name, optarg, numbers[i].min, numbers[i].max);
                                        return -EINVAL;
                                }
                                found = true;
                        }
                if (found)
                        continue;

                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("mbus-bench %s\n", MBUS_VERSION);
                        return 0;
                case 'a':
                        if (strncmp(optarg, "compat+", 7) != 0) {
                                arg_address = optarg;
                                break;
                        }
                        if (!bench_compat_address_valid(optarg)) {
                                tool_error("invalid --address '%s': the compat listener is measured on a "
                                           "compat+unix:PATH address", optarg);
                                return -EINVAL;
                        }
                        arg_compat_address = optarg;
                        break;
                case ARG_BROKER:
                        arg_broker = optarg;
                        break;
                case 's': {
                        size_t i;

                        for (i = 0; i < _BENCH_SCENARIO_MAX; i++)
                                if (strcmp(optarg, bench_scenario_names[i]) == 0)
                                        break;
                        if (i >= _BENCH_SCENARIO_MAX) {
                                tool_error("unknown scenario '%s' (see --help)", optarg);
                                return -EINVAL;
                        }
                        arg_scenarios |= 1u << i;
                        break;
                }
                case ARG_PEER: {
                        static const struct {
                                const char *name;
                                enum bench_scenario scenario;
                        } peers[] = {
                                { "dbus",        BENCH_DBUS        },
                                { "dbus-daemon", BENCH_DBUS        },
                                { "dbus-broker", BENCH_DBUS_BROKER },
                                { "nats",        BENCH_NATS        },
                                { "mbus-orig",   BENCH_MBUS_ORIG   },
                        };
                        size_t i;

                        for (i = 0; i < ELEMENTSOF(peers); i++)
                                if (strcmp(optarg, peers[i].name) == 0)
                                        break;
                        if (i >= ELEMENTSOF(peers)) {
                                tool_error("unknown --peer '%s': dbus-daemon (or dbus), dbus-broker, nats or mbus-orig",
                                           optarg);
                                return -EINVAL;
                        }
                        extra |= 1u << peers[i].scenario;
                        /* the original broker is compared with the compat listener */
                        if (peers[i].scenario == BENCH_MBUS_ORIG)
                                extra |= 1u << BENCH_RPC_SEQ_COMPAT;
                        break;
                }
                case ARG_TRANSPORT:
                        /* the UNIX socket is always measured; ws adds rpc-seq-ws and fanout-ws,
                         * compat rpc-seq in the original mBus protocol */
                        if (strcmp(optarg, "ws") == 0)
                                extra |= BENCH_SCENARIOS_WS;
                        else if (strcmp(optarg, "compat") == 0)
                                extra |= 1u << BENCH_RPC_SEQ_COMPAT;
                        else if (strcmp(optarg, "unix") != 0) {
                                tool_error("unknown --transport '%s': unix, ws or compat", optarg);
                                return -EINVAL;
                        }
                        break;
                case ARG_IDLE: {
                        _cleanup_free_ char *list = strdup(optarg);
                        char *state = NULL;

                        if (!list)
                                return -ENOMEM;
                        arg_n_idle_sizes = 0;
                        for (char *w = strtok_r(list, ",", &state); w; w = strtok_r(NULL, ",", &state)) {
                                if (arg_n_idle_sizes >= ELEMENTSOF(arg_idle_sizes) ||
                                    tool_parse_uint(w, 1, 1000000, &arg_idle_sizes[arg_n_idle_sizes]) < 0) {
                                        tool_error("invalid --idle-peers '%s': expected up to %zu integers in 1..1000000, "
                                                   "separated by commas", optarg, ELEMENTSOF(arg_idle_sizes));
                                        return -EINVAL;
                                }
                                arg_n_idle_sizes++;
                        }
                        if (arg_n_idle_sizes == 0) {
                                tool_error("invalid --idle-peers '%s'", optarg);
                                return -EINVAL;
                        }
                        arg_idle = arg_idle_sizes[0];
                        break;
                }
                case 'j':
                        arg_json = true;
                        break;
                case ARG_TLS_CERT:
                        arg_tls_cert = optarg;
                        break;
                case ARG_TLS_KEY:
                        arg_tls_key = optarg;
                        break;
                case ARG_TLS_CA:
                        arg_tls_ca = optarg;
                        break;
                case ARG_BROKER_TLS_CERT:
                        arg_broker_tls_cert = optarg;
                        break;
                case ARG_BROKER_TLS_KEY:
                        arg_broker_tls_key = optarg;
                        break;
                case ARG_ORIG_BROKER:
                        arg_orig_broker = optarg;
                        break;
                case ARG_WS_JSON:
                        arg_ws_json = true;
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (bench_address_is_ws(arg_address)) {
                for (size_t i = 0; i < _BENCH_SCENARIO_MAX; i++)
                        if (arg_scenarios & ~BENCH_SCENARIOS_WS_ADDRESS & (1u << i)) {
                                tool_error("scenario %s has no WebSocket peers: with a ws:// or wss:// --address, "
                                           "rpc-seq and fanout run (see --help)", bench_scenario_names[i]);
                                return -EINVAL;
                        }
                /* the default set over WebSocket is these two */
                if (arg_scenarios == 0)
                        arg_scenarios = (1u << BENCH_RPC_SEQ) | (1u << BENCH_FANOUT);
        } else if (arg_scenarios == 0)
                arg_scenarios = ((1u << _BENCH_SCENARIO_MAX) - 1) & ~BENCH_SCENARIOS_OPTIONAL;
        arg_scenarios |= extra;
        if (arg_compat_address && !arg_address) {
                tool_error("--address compat+unix:PATH goes with the same broker's native --address");
                return -EINVAL;
        }
        if (arg_address && (arg_scenarios & (1u << BENCH_RPC_SEQ_COMPAT)) && !arg_compat_address) {
                tool_error("rpc-seq-compat with --address needs that broker's compat listener too: "
                           "--address compat+unix:PATH");
                return -EINVAL;
        }
        if ((arg_broker_tls_cert || arg_broker_tls_key) &&
            !(arg_broker_tls_cert && arg_broker_tls_key && arg_tls_cert && arg_tls_key && arg_tls_ca)) {
                tool_error("--broker-tls-cert and --broker-tls-key go with each other and with --tls-cert, "
                           "--tls-key and --tls-ca");
                return -EINVAL;
        }
        return 1;
}

static int run_serve_echo(int argc, char *argv[]) {
        struct sigaction sa = { .sa_handler = bench_on_signal };
        int r;

        if (argc != 2) {
                tool_error("expected serve-echo NAMESPACE (see --help)");
                return TOOL_EXIT_USAGE;
        }
        if (!mbus_namespace_is_valid(argv[1])) {
                tool_error("invalid namespace '%s'", argv[1]);
                return TOOL_EXIT_USAGE;
        }
        /* No SA_RESTART: a signal must interrupt poll(). */
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGINT, &sa, NULL);

        /* echo_serve() has said what went wrong */
        r = echo_serve(arg_address, argv[1], /* ready_fd= */ -EBADF, /* stop_fd= */ -EBADF);
        return r < 0 ? TOOL_EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        struct bench b = {};
        int r, ret = EXIT_SUCCESS;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? TOOL_EXIT_USAGE : EXIT_SUCCESS;

        (void) signal(SIGPIPE, SIG_IGN);

        /* Through the environment, libmbus gives them to every tls:// connection without
         * parameters of its own, in this process and in every helper forked from it. */
        if ((arg_tls_cert && setenv("MBUS_TLS_CERT", arg_tls_cert, 1) < 0) ||
            (arg_tls_key && setenv("MBUS_TLS_KEY", arg_tls_key, 1) < 0) ||
            (arg_tls_ca && setenv("MBUS_TLS_CA", arg_tls_ca, 1) < 0)) {
                tool_error("cannot set the TLS files: %m");
                return TOOL_EXIT_FAILURE;
        }

        if (optind < argc) {
                if (strcmp(argv[optind], "serve-echo") == 0)
                        return run_serve_echo(argc - optind, argv + optind);
                tool_error("unknown command '%s' (see --help)", argv[optind]);
                return TOOL_EXIT_USAGE;
        }

        /* The idle scenario's broker and workers hold that many connections; they inherit the limit. */
        uint64_t max_idle = arg_idle;
        for (size_t i = 0; i < arg_n_idle_sizes; i++)
                max_idle = MAX(max_idle, arg_idle_sizes[i]);
        raise_fd_limit(max_idle + 256);

        /* tls always starts brokers of its own: it needs one with a UNIX and a TLS listener */
        if ((!arg_address && (arg_scenarios & ~((1u << BENCH_FLOOR) | BENCH_SCENARIOS_PEERS))) ||
            (arg_scenarios & BENCH_SCENARIOS_OWN_BROKER)) {
                b.broker_path = bench_find_broker();
                if (!b.broker_path) {
                        tool_error("cannot find mbus-broker: pass --broker PATH, set $MBUS_BROKER, or --address");
                        return TOOL_EXIT_FAILURE;
                }
                if (access(b.broker_path, X_OK) < 0) {
                        tool_error("cannot run %s: %m", b.broker_path);
                        free(b.broker_path);
                        return TOOL_EXIT_FAILURE;
                }
        }

        if (arg_scenarios & (1u << BENCH_TLS)) {
                if (arg_broker_tls_cert)
                        r = bench_tls_files_use(&b.tls, arg_tls_cert, arg_tls_key, arg_tls_ca, arg_broker_tls_cert,
                                                arg_broker_tls_key);
                else
                        r = bench_tls_files_make(&b.tls);
                if (r < 0) {
                        free(b.broker_path);
                        return TOOL_EXIT_FAILURE;
                }
        }

        b.n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
        b.loadavg_start = read_loadavg();
        for (uint64_t run = 0; run < arg_runs; run++)
                for (enum bench_scenario s = 0; s < _BENCH_SCENARIO_MAX; s++) {
                        if (!(arg_scenarios & (1u << s)))
                                continue;
                        if (!arg_json)
                                fprintf(stderr, "mbus-bench: run %" PRIu64 "/%" PRIu64 ": %s\n", run + 1, arg_runs,
                                        bench_scenario_names[s]);
                        r = bench_run_scenario(&b, s);
                        if (r < 0) {
                                tool_error("scenario %s failed: %s", bench_scenario_names[s], strerror(-r));
                                ret = TOOL_EXIT_FAILURE;
                        }
                }

        b.loadavg_end = read_loadavg();
        if (arg_json)
                r = bench_print_json(&b);
        else {
                bench_print_text(&b);
                r = 0;
        }
        free(b.broker_path);
        bench_tls_files_done(&b.tls);
        if (r < 0)
                ret = TOOL_EXIT_FAILURE;
        return ret;
}
