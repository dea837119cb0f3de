/* main.c — soukd: command line, configuration, signals; the work is in gateway.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "gateway.h"
#include "store.h"
#include "util.h"

#ifndef SOUK_VERSION
#define SOUK_VERSION "0.0.0"
#endif

static gateway *g_gw;

static void on_signal(int sig)
{
	(void)sig;
	if (g_gw)
		gateway_request_stop(g_gw);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: soukd [--data-dir DIR] [--listen HOST:PORT] [--config FILE]\n"
		   "             [--port-file FILE] [--tls-cert PEM --tls-key PEM]\n"
		   "             [--log-level error|warn|info|debug] [--set KEY=VALUE]...\n"
		   "       soukd --version\n"
		   "Settings come from defaults, then --config FILE (JSON) or $SOUKD_CONFIG, then\n"
		   "SOUKD_<KEY> environment variables, then flags. See docs/operations.md.\n");
}

int main(int argc, char **argv)
{
	souk_config cfg;
	char err[512];
	const char *config_path = getenv("SOUKD_CONFIG");
	config_defaults(&cfg);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("soukd %s (protocol souk.v%u)\n", SOUK_VERSION,
			       SOUK_WIRE_PROTOCOL_VERSION);
			return 0;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config_path = argv[++i];
	}
	if (config_path && config_load_file(&cfg, config_path, err, sizeof(err))) {
		fprintf(stderr, "soukd: %s\n", err);
		return 2;
	}
	if (config_load_env(&cfg, err, sizeof(err))) {
		fprintf(stderr, "soukd: %s\n", err);
		return 2;
	}
	static const struct {
		const char *flag, *key;
	} flags[] = {{"--data-dir", "data_dir"},   {"--listen", "listen"},
		     {"--port-file", "port_file"}, {"--tls-cert", "tls_cert"},
		     {"--tls-key", "tls_key"},	   {"--log-level", "log_level"}};
	for (int i = 1; i < argc; i++) {
		int done = 0;
		if (strcmp(argv[i], "--config") == 0) {
			i++;
			continue;
		}
		for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]) && !done; k++) {
			if (strcmp(argv[i], flags[k].flag) == 0) {
				if (i + 1 >= argc) {
					fprintf(stderr, "soukd: %s needs a value\n", argv[i]);
					return 2;
				}
				if (config_set(&cfg, flags[k].key, argv[++i], err, sizeof(err))) {
					fprintf(stderr, "soukd: %s\n", err);
					return 2;
				}
				done = 1;
			}
		}
		if (!done && strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
			char kv[1200];
			snprintf(kv, sizeof(kv), "%s", argv[++i]);
			char *eq = strchr(kv, '=');
			if (!eq) {
				fprintf(stderr, "soukd: --set needs KEY=VALUE\n");
				return 2;
			}
			*eq = '\0';
			if (config_set(&cfg, kv, eq + 1, err, sizeof(err))) {
				fprintf(stderr, "soukd: %s\n", err);
				return 2;
			}
			done = 1;
		}
		if (!done) {
			fprintf(stderr, "soukd: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (config_validate(&cfg, err, sizeof(err))) {
		fprintf(stderr, "soukd: %s\n", err);
		return 2;
	}
	souk_log_level = souk_log_level_parse(cfg.log_level);

	signal(SIGPIPE, SIG_IGN);
	/* every connection is a file descriptor: use all the hard limit allows */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		souk_log(SOUK_LOG_INFO,
			 "file descriptor limit %llu (connections are bounded by it)",
			 (unsigned long long)rl.rlim_cur);
	souk_store *store = store_sqlite_open(cfg.data_dir, err, sizeof(err));
	if (!store) {
		fprintf(stderr, "soukd: %s\n", err);
		return 1;
	}
	g_gw = gateway_new(&cfg, store, err, sizeof(err));
	if (!g_gw) {
		fprintf(stderr, "soukd: %s\n", err);
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	char host[256];
	int port;
	config_listen(&cfg, host, sizeof(host), &port);
	souk_log(SOUK_LOG_INFO, "soukd %s listening on %s://%s:%d%s (data %s, store sqlite)",
		 SOUK_VERSION, cfg.tls_cert[0] ? "wss" : "ws", host, gateway_port(g_gw),
		 SOUK_WIRE_PATH, cfg.data_dir);
	gateway_run(g_gw);
	gateway_free(g_gw);
	souk_log(SOUK_LOG_INFO, "stopped");
	return 0;
}
