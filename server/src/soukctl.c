/* soukctl.c — administration of a soukd data directory: apps, keys, development tokens.
 * Runs beside a live soukd (SQLite WAL allows it); changes reach soukd within its app
 * cache lifetime (10 s) or at once for an app it has not seen. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "store.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: soukctl --data-dir DIR COMMAND\n"
		   "commands:\n"
		   "  app create NAME [--json] [--audience AUD] [--issuer ISS]\n"
		   "      create an app; prints app_id, api_key and jwt_secret (shown once)\n"
		   "  app list [--json]\n"
		   "  key add APP_ID KID --es256-public-key FILE.pem\n"
		   "      register an ES256 public key (several may be active: rotation)\n"
		   "  key revoke APP_ID KID\n"
		   "  token APP_ID USER_ID [--ttl SECONDS] [--secret SECRET]\n"
		   "      print a HS256 user token signed with the app's secret (development);\n"
		   "      --secret is needed only if the app's secret is not in this data dir\n");
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(65537);
	size_t n = buf ? fread(buf, 1, 65536, f) : 0;
	fclose(f);
	if (!buf)
		return NULL;
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void print_app(const store_app *app, void *ud)
{
	json_t *arr = ud;
	if (arr) {
		json_t *keys = json_array();
		for (size_t i = 0; i < app->n_keys; i++)
			json_array_append_new(keys, json_pack("{s:s,s:s}", "kid", app->keys[i].kid,
							      "alg", app->keys[i].alg));
		json_array_append_new(arr, json_pack("{s:s,s:s,s:o}", "app_id", app->app_id, "name",
						     app->name, "keys", keys));
		return;
	}
	printf("%s\t%s\t", app->app_id, app->name);
	for (size_t i = 0; i < app->n_keys; i++)
		printf("%s%s:%s", i ? "," : "", app->keys[i].kid, app->keys[i].alg);
	printf("\n");
}

int main(int argc, char **argv)
{
	const char *data_dir = getenv("SOUKD_DATA_DIR");
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
			data_dir = argv[++i];
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else
			break;
	}
	if (!data_dir || i >= argc) {
		usage(stderr);
		return 2;
	}
	int nargs = argc - i;
	char **a = argv + i;
	char err[512];
	souk_store *s = store_sqlite_open(data_dir, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "soukctl: %s\n", err);
		return 1;
	}
	int rc = 2;

	if (nargs >= 3 && strcmp(a[0], "app") == 0 && strcmp(a[1], "create") == 0) {
		int json = 0;
		const char *aud = "", *iss = "";
		for (int k = 3; k < nargs; k++) {
			if (strcmp(a[k], "--json") == 0)
				json = 1;
			else if (strcmp(a[k], "--audience") == 0 && k + 1 < nargs)
				aud = a[++k];
			else if (strcmp(a[k], "--issuer") == 0 && k + 1 < nargs)
				iss = a[++k];
			else {
				fprintf(stderr, "soukctl: unknown option '%s'\n", a[k]);
				goto out;
			}
		}
		store_app_created out;
		if (s->ops->app_create(s, a[2], aud, iss, &out) != 0) {
			fprintf(stderr, "soukctl: cannot create the app\n");
			rc = 1;
			goto out;
		}
		if (json) {
			json_t *o =
				json_pack("{s:s,s:s,s:s,s:s}", "app_id", out.app_id, "name", a[2],
					  "api_key", out.api_key, "jwt_secret", out.jwt_secret);
			char *txt = json_dumps(o, JSON_COMPACT);
			printf("%s\n", txt);
			free(txt);
			json_decref(o);
		} else {
			printf("app_id:     %s\napi_key:    %s\njwt_secret: %s\n", out.app_id,
			       out.api_key, out.jwt_secret);
		}
		rc = 0;
	} else if (nargs >= 2 && strcmp(a[0], "app") == 0 && strcmp(a[1], "list") == 0) {
		int json = nargs >= 3 && strcmp(a[2], "--json") == 0;
		json_t *arr = json ? json_array() : NULL;
		rc = s->ops->app_list(s, print_app, arr) ? 1 : 0;
		if (arr) {
			char *txt = json_dumps(arr, JSON_COMPACT);
			printf("%s\n", txt);
			free(txt);
			json_decref(arr);
		}
	} else if (nargs == 6 && strcmp(a[0], "key") == 0 && strcmp(a[1], "add") == 0 &&
		   strcmp(a[4], "--es256-public-key") == 0) {
		size_t len = 0;
		char *pem = read_file(a[5], &len);
		if (!pem || !strstr(pem, "-----BEGIN PUBLIC KEY-----")) {
			fprintf(stderr, "soukctl: %s is not a PEM public key\n", a[5]);
			free(pem);
			rc = 1;
			goto out;
		}
		int r = s->ops->app_add_key(s, a[2], a[3], "ES256", pem, len);
		free(pem);
		if (r) {
			fprintf(stderr, "soukctl: %s\n",
				r > 0 ? "no such app" : "cannot store the key");
			rc = 1;
			goto out;
		}
		printf("key %s added to %s (ES256)\n", a[3], a[2]);
		rc = 0;
	} else if (nargs == 4 && strcmp(a[0], "key") == 0 && strcmp(a[1], "revoke") == 0) {
		int r = s->ops->app_revoke_key(s, a[2], a[3]);
		if (r) {
			fprintf(stderr, "soukctl: %s\n", r > 0 ? "no such key" : "store error");
			rc = 1;
			goto out;
		}
		printf("key %s of %s revoked\n", a[3], a[2]);
		rc = 0;
	} else if (nargs >= 3 && strcmp(a[0], "token") == 0) {
		long ttl = 3600;
		const char *secret = NULL;
		for (int k = 3; k < nargs; k++) {
			if (strcmp(a[k], "--ttl") == 0 && k + 1 < nargs) {
				char *end;
				ttl = strtol(a[++k], &end, 10);
				if (*end || ttl <= 0) {
					fprintf(stderr,
						"soukctl: --ttl must be a positive number\n");
					goto out;
				}
			} else if (strcmp(a[k], "--secret") == 0 && k + 1 < nargs) {
				secret = a[++k];
			} else {
				fprintf(stderr, "soukctl: unknown option '%s'\n", a[k]);
				goto out;
			}
		}
		store_app app;
		int r = s->ops->load_app(s, a[1], &app);
		if (r) {
			fprintf(stderr, "soukctl: %s\n", r > 0 ? "no such app" : "store error");
			rc = 1;
			goto out;
		}
		const char *key = secret;
		for (size_t k = 0; !key && k < app.n_keys; k++)
			if (strcmp(app.keys[k].kid, "default") == 0 &&
			    strcmp(app.keys[k].alg, "HS256") == 0)
				key = app.keys[k].key;
		if (!key) {
			fprintf(stderr, "soukctl: the app has no active HS256 secret\n");
			store_app_clear(&app);
			rc = 1;
			goto out;
		}
		char *tok = auth_sign_hs256(key, "default", a[2], souk_now_ms() / 1000, ttl,
					    app.audience, app.issuer);
		store_app_clear(&app);
		if (!tok) {
			fprintf(stderr, "soukctl: cannot sign the token\n");
			rc = 1;
			goto out;
		}
		printf("%s\n", tok);
		free(tok);
		rc = 0;
	} else {
		usage(stderr);
	}
out:
	s->ops->close(s);
	return rc;
}
