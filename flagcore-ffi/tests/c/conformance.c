/* Conformance through the C ABI: evaluates every entity listed in NAMES for every user in
 * USERS against the payload DCS and prints result lines in the conformance format.
 *
 *   conformance DCS.json NAMES.tsv USERS.jsonl [TIER] > results.jsonl
 *
 * NAMES.tsv holds "kind<TAB>name" lines, kind being 0 gate, 1 config, 2 experiment, 3 layer.
 */
#include "flagcore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(2); }
  buf[n] = 0;
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void put_json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') putchar('\\');
    putchar(*s);
  }
  putchar('"');
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: conformance DCS NAMES USERS [TIER]\n"); return 2; }
  static const char *labels[] = {"gate", "config", "experiment", "layer"};
  flagcore_store *store = NULL;
  const char *tier = argc > 4 ? argv[4] : NULL;
  if (flagcore_store_new((const uint8_t *)tier, tier ? strlen(tier) : 0, &store) != FLAGCORE_RESULT_OK) return 1;
  size_t dcs_len;
  char *dcs = slurp(argv[1], &dcs_len);
  char err[512];
  size_t err_len = 0;
  if (flagcore_store_load_json(store, (const uint8_t *)dcs, dcs_len, (uint8_t *)err, sizeof err, &err_len) != FLAGCORE_RESULT_OK) {
    fprintf(stderr, "load: %.*s\n", (int)(err_len < sizeof err ? err_len : sizeof err), err);
    return 1;
  }
  free(dcs);

  size_t names_len;
  char *names = slurp(argv[2], &names_len);
  size_t users_len;
  char *users = slurp(argv[3], &users_len);
  size_t cap = 1 << 16;
  uint8_t *buf = malloc(cap);
  int u = 0;
  for (char *line = strtok(users, "\n"); line; line = strtok(NULL, "\n"), u++) {
    flagcore_user *user = NULL;
    if (flagcore_user_from_json((const uint8_t *)line, strlen(line), &user) != FLAGCORE_RESULT_OK) {
      fprintf(stderr, "user %d: invalid JSON\n", u);
      return 1;
    }
    char *cursor = names;
    while (*cursor) {
      char *eol = strchr(cursor, '\n');
      if (!eol) eol = cursor + strlen(cursor);
      int kind = *cursor - '0';
      char *name = cursor + 2;
      size_t name_len = (size_t)(eol - name);
      char saved = *eol;
      *eol = 0;
      flagcore_evaluation *ev = NULL;
      if (flagcore_store_evaluate(store, user, (uint32_t)kind, (const uint8_t *)name, name_len, &ev) != FLAGCORE_RESULT_OK) return 1;
      size_t len = 0;
      flagcore_result r = flagcore_evaluation_record_json(ev, buf, cap, &len);
      if (r == FLAGCORE_RESULT_BUFFER_TOO_SMALL) {
        cap = len;
        buf = realloc(buf, cap);
        r = flagcore_evaluation_record_json(ev, buf, cap, &len);
      }
      if (r != FLAGCORE_RESULT_OK) return 1;
      printf("{\"u\":%d,\"kind\":\"%s\",\"name\":", u, labels[kind]);
      put_json_string(name);
      printf(",%.*s\n", (int)(len - 1), (const char *)buf + 1);
      flagcore_evaluation_free(ev);
      *eol = saved;
      cursor = saved ? eol + 1 : eol;
    }
    flagcore_user_free(user);
  }
  free(buf);
  free(names);
  free(users);
  flagcore_store_free(store);
  return 0;
}
