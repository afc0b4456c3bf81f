/* flagcore_store_check_gate allocates nothing after warm-up: the allocator functions are
 * wrapped at link time (-Wl,--wrap=malloc,...) and counted while every gate of the payload
 * is checked for every user.
 *
 *   zero_alloc DCS.json GATES.txt USERS.jsonl
 */
#include "flagcore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int counting = 0;
static long allocations = 0;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);

void *__wrap_malloc(size_t n) { allocations += counting; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { allocations += counting; return __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { allocations += counting; return __real_realloc(p, n); }
int __wrap_posix_memalign(void **p, size_t align, size_t n) { allocations += counting; return __real_posix_memalign(p, align, n); }
void *__wrap_aligned_alloc(size_t align, size_t n) { allocations += counting; return __real_aligned_alloc(align, n); }

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) exit(2);
  buf[n] = 0;
  fclose(f);
  *len = (size_t)n;
  return buf;
}

#define MAX 4096

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  flagcore_store *store = NULL;
  if (flagcore_store_new(NULL, 0, &store) != FLAGCORE_RESULT_OK) return 1;
  size_t len;
  char *dcs = slurp(argv[1], &len);
  if (flagcore_store_load_json(store, (const uint8_t *)dcs, len, NULL, 0, NULL) != FLAGCORE_RESULT_OK) return 1;
  char *gates_text = slurp(argv[2], &len);
  char *users_text = slurp(argv[3], &len);
  static char *gates[MAX];
  static flagcore_user *users[MAX];
  int n_gates = 0, n_users = 0;
  for (char *g = strtok(gates_text, "\n"); g && n_gates < MAX; g = strtok(NULL, "\n")) gates[n_gates++] = g;
  for (char *line = users_text; *line && n_users < MAX;) {
    char *eol = strchr(line, '\n');
    size_t n = eol ? (size_t)(eol - line) : strlen(line);
    if (flagcore_user_from_json((const uint8_t *)line, n, &users[n_users]) != FLAGCORE_RESULT_OK) return 1;
    n_users++;
    if (!eol) break;
    line = eol + 1;
  }
  /* The wrapping sees the library's allocations: building a user allocates. */
  flagcore_user *probe = NULL;
  counting = 1;
  if (flagcore_user_from_json((const uint8_t *)"{\"userID\": \"probe\"}", 19, &probe) != FLAGCORE_RESULT_OK) return 1;
  counting = 0;
  flagcore_user_free(probe);
  if (allocations == 0) {
    fprintf(stderr, "the allocator wrapping does not see flagcore's allocations\n");
    return 1;
  }
  allocations = 0;
  long checks = 0, passed = 0;
  for (int round = 0; round < 2; round++) {
    counting = round == 1;
    for (int u = 0; u < n_users; u++) {
      for (int g = 0; g < n_gates; g++) {
        bool value = false;
        if (flagcore_store_check_gate(store, users[u], (const uint8_t *)gates[g], strlen(gates[g]), &value) != FLAGCORE_RESULT_OK) return 1;
        checks += counting;
        passed += counting && value;
      }
    }
  }
  counting = 0;
  printf("zero_alloc: %ld checks (%ld passed), %ld allocations\n", checks, passed, allocations);
  for (int u = 0; u < n_users; u++) flagcore_user_free(users[u]);
  flagcore_store_free(store);
  return allocations == 0 && checks > 0 ? 0 : 1;
}
