/* 8 threads evaluate while the main thread replaces the ruleset 1,000 times, alternating two
 * payloads in which gate "g" is on (time 1) or off (time 2); then a forked child keeps
 * evaluating with the store it inherited.
 */
#include "flagcore.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAYLOAD(on, time)                                                                       \
  "{\"feature_gates\": {\"g\": {\"type\": \"feature_gate\", \"entity\": \"feature_gate\","     \
  "\"salt\": \"s\", \"enabled\": true, \"defaultValue\": false, \"idType\": \"userID\","        \
  "\"rules\": [{\"id\": \"r\", \"name\": \"r\", \"passPercentage\": 100, \"conditions\": [\"c\"]," \
  "\"returnValue\": " on ", \"idType\": \"userID\"}]}}, \"dynamic_configs\": {},"               \
  "\"layer_configs\": {}, \"condition_map\": {\"c\": {\"type\": \"public\", \"idType\": \"userID\"}}," \
  "\"experiment_to_layer\": {}, \"has_updates\": true, \"time\": " time "}"

static const char *on = PAYLOAD("true", "1");
static const char *off = PAYLOAD("false", "2");
static flagcore_store *store;
static flagcore_user *user;
static atomic_int done;
static atomic_long seen_on, seen_off, errors;

static void *reader(void *arg) {
  (void)arg;
  while (!atomic_load(&done)) {
    bool value;
    if (flagcore_store_check_gate(store, user, (const uint8_t *)"g", 1, &value) != FLAGCORE_RESULT_OK) {
      atomic_fetch_add(&errors, 1);
      continue;
    }
    atomic_fetch_add(value ? &seen_on : &seen_off, 1);
  }
  return NULL;
}

int main(void) {
  if (flagcore_store_new(NULL, 0, &store) != FLAGCORE_RESULT_OK) return 1;
  if (flagcore_user_from_json((const uint8_t *)"{\"userID\": \"u\"}", 15, &user) != FLAGCORE_RESULT_OK) return 1;
  if (flagcore_store_load_json(store, (const uint8_t *)on, strlen(on), NULL, 0, NULL) != FLAGCORE_RESULT_OK) return 1;
  pthread_t threads[8];
  for (int i = 0; i < 8; i++) pthread_create(&threads[i], NULL, reader, NULL);
  for (int i = 0; i < 1000; i++) {
    const char *p = i % 2 ? on : off;
    if (flagcore_store_load_json(store, (const uint8_t *)p, strlen(p), NULL, 0, NULL) != FLAGCORE_RESULT_OK) return 1;
  }
  atomic_store(&done, 1);
  for (int i = 0; i < 8; i++) pthread_join(threads[i], NULL);
  printf("stress: %ld on, %ld off, %ld errors\n", atomic_load(&seen_on), atomic_load(&seen_off), atomic_load(&errors));
  if (atomic_load(&errors) != 0 || atomic_load(&seen_on) == 0 || atomic_load(&seen_off) == 0) return 1;
  uint64_t time;
  if (flagcore_store_ruleset_time(store, &time) != FLAGCORE_RESULT_OK || time != 1) return 1;

  pid_t child = fork();
  if (child == 0) {
    bool value = false;
    int ok = flagcore_store_check_gate(store, user, (const uint8_t *)"g", 1, &value) == FLAGCORE_RESULT_OK && value;
    ok = ok && flagcore_store_load_json(store, (const uint8_t *)off, strlen(off), NULL, 0, NULL) == FLAGCORE_RESULT_OK;
    ok = ok && flagcore_store_check_gate(store, user, (const uint8_t *)"g", 1, &value) == FLAGCORE_RESULT_OK && !value;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "forked child failed\n");
    return 1;
  }
  flagcore_user_free(user);
  flagcore_store_free(store);
  printf("fork: child evaluated and reloaded\n");
  return 0;
}
