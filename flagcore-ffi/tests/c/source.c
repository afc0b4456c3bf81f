/* A file source started from C flips a gate when the file changes, and stops cleanly.
 *
 *   source PATH        (PATH: a file this program writes)
 */
#define FLAGCORE_SYNC 1
#include "flagcore.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define PAYLOAD(on, time)                                                                       \
  "{\"feature_gates\": {\"g\": {\"type\": \"feature_gate\", \"entity\": \"feature_gate\","     \
  "\"salt\": \"s\", \"enabled\": true, \"defaultValue\": false, \"idType\": \"userID\","        \
  "\"rules\": [{\"id\": \"r\", \"name\": \"r\", \"passPercentage\": 100, \"conditions\": [\"c\"]," \
  "\"returnValue\": " on ", \"idType\": \"userID\"}]}}, \"dynamic_configs\": {},"               \
  "\"layer_configs\": {}, \"condition_map\": {\"c\": {\"type\": \"public\", \"idType\": \"userID\"}}," \
  "\"experiment_to_layer\": {}, \"has_updates\": true, \"time\": " time "}"

static int write_file(const char *path, const char *text) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) return 0;
  fputs(text, f);
  fclose(f);
  return rename(tmp, path) == 0; /* atomic replace, as a deploy tool would */
}

static void nap(void) {
  struct timespec ts = {0, 10 * 1000 * 1000};
  nanosleep(&ts, NULL);
}

static int wait_for_time(flagcore_source *source, uint64_t want) {
  for (int i = 0; i < 500; i++) {
    flagcore_source_state status;
    if (flagcore_source_status(source, &status) != FLAGCORE_RESULT_OK) return 0;
    if (status.ruleset_time == want) return status.ever_succeeded;
    nap();
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *path = argv[1];
  if (!write_file(path, PAYLOAD("true", "1"))) return 2;
  flagcore_store *store = NULL;
  flagcore_user *user = NULL;
  if (flagcore_store_new(NULL, 0, &store) != FLAGCORE_RESULT_OK) return 1;
  if (flagcore_user_from_json((const uint8_t *)"{\"userID\": \"u\"}", 15, &user) != FLAGCORE_RESULT_OK) return 1;
  flagcore_source *source = NULL;
  if (flagcore_source_start_file(store, (const uint8_t *)path, strlen(path), 10, NULL) != FLAGCORE_RESULT_NULL_PARAMETER) return 1;
  if (flagcore_source_start_file(store, (const uint8_t *)path, strlen(path), 10, &source) != FLAGCORE_RESULT_OK) return 1;
  if (!wait_for_time(source, 1)) { fprintf(stderr, "the file was not loaded\n"); return 1; }
  bool value = false;
  if (flagcore_store_check_gate(store, user, (const uint8_t *)"g", 1, &value) != FLAGCORE_RESULT_OK || !value) return 1;
  if (!write_file(path, PAYLOAD("false", "2"))) return 2;
  if (!wait_for_time(source, 2)) { fprintf(stderr, "the change was not seen\n"); return 1; }
  if (flagcore_store_check_gate(store, user, (const uint8_t *)"g", 1, &value) != FLAGCORE_RESULT_OK || value) return 1;
  flagcore_source_state status;
  if (flagcore_source_status(NULL, &status) != FLAGCORE_RESULT_NULL_PARAMETER) return 1;
  flagcore_source_free(source);
  flagcore_source_free(NULL);
  /* The store keeps serving after its source stopped. */
  if (flagcore_store_check_gate(store, user, (const uint8_t *)"g", 1, &value) != FLAGCORE_RESULT_OK || value) return 1;
  flagcore_user_free(user);
  flagcore_store_free(store);
  remove(path);
  printf("source: a file edit flipped the gate from C\n");
  return 0;
}
