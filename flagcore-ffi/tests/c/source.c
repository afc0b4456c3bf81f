/* A file source started from C flips a gate when the file changes, and stops cleanly.
 *
 * Then fork(): the child has none of the parent's threads, so the source does not run
 * there. Regression (statsig-server-core#52, where the ruleset froze silently in forked
 * workers): the child's status says FORKED, and after flagcore_source_restart the child sees
 * a flipped gate from the file.
 *
 *   source PATH        (PATH: a file this program writes)
 */
#define FLAGCORE_SYNC 1
#include "flagcore.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* Waits (at most 10 s) until the source installed the ruleset of time `want`. */
static int wait_for_time(flagcore_source *source, uint64_t want) {
  for (int i = 0; i < 1000; i++) {
    flagcore_source_state status;
    if (flagcore_source_status(source, &status) != FLAGCORE_RESULT_OK) return 0;
    if (status.ruleset_time == want) return status.ever_succeeded;
    nap();
  }
  return 0;
}

static int gate(flagcore_store *store, flagcore_user *user, bool *value) {
  return flagcore_store_check_gate(store, user, (const uint8_t *)"g", 1, value) == FLAGCORE_RESULT_OK;
}

#define FAIL(msg) do { fprintf(stderr, "child: %s\n", msg); _exit(1); } while (0)

/* The child ends with _exit: the parent's threads left objects only their (absent) stacks
 * referred to, which LeakSanitizer at exit() would report as leaks of this process. */
static void child(const char *path, flagcore_store *store, flagcore_user *user, flagcore_source *source) {
  flagcore_source_state status = {0};
  status.attempts = 77;
  if (flagcore_source_status(source, &status) != FLAGCORE_RESULT_FORKED) FAIL("status does not say FORKED");
  if (status.attempts != 77) FAIL("status wrote its output on error");
  bool value = false;
  if (!gate(store, user, &value) || value) FAIL("the inherited ruleset is not served");
  /* Nothing runs here: an edit of the file is not seen. */
  if (!write_file(path, PAYLOAD("true", "3"))) FAIL("cannot write the file");
  for (int i = 0; i < 20; i++) nap();
  if (!gate(store, user, &value) || value) FAIL("a source ran in the child without a restart");
  if (flagcore_source_restart(source) != FLAGCORE_RESULT_OK) FAIL("restart failed");
  if (!wait_for_time(source, 3)) FAIL("the restarted source did not load the file");
  if (!gate(store, user, &value) || !value) FAIL("the gate did not flip after the restart");
  flagcore_source_free(source);
  flagcore_user_free(user);
  flagcore_store_free(store);
  _exit(0);
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
  /* A source handle is tagged like every other. */
  if (flagcore_source_status((const flagcore_source *)store, &status) != FLAGCORE_RESULT_INVALID_HANDLE) return 1;
  if (flagcore_source_restart((flagcore_source *)user) != FLAGCORE_RESULT_INVALID_HANDLE) return 1;
  if (flagcore_source_restart(NULL) != FLAGCORE_RESULT_NULL_PARAMETER) return 1;

  /* Across a fork: the child (gate off, time 2) restarts its source and follows the file. */
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) { perror("fork"); return 1; }
  if (pid == 0) child(path, store, user, source);
  int child_status = 0;
  if (waitpid(pid, &child_status, 0) != pid) { perror("waitpid"); return 1; }
  if (!WIFEXITED(child_status) || WEXITSTATUS(child_status) != 0) {
    fprintf(stderr, "the child failed (status %d)\n", child_status);
    return 1;
  }
  /* The parent's source kept running: it loaded the child's edit too. */
  if (!wait_for_time(source, 3)) { fprintf(stderr, "the parent's source stopped\n"); return 1; }
  if (flagcore_store_check_gate(store, user, (const uint8_t *)"g", 1, &value) != FLAGCORE_RESULT_OK || !value) return 1;
  /* A restart in the process that started the source stops it and starts it afresh. */
  if (flagcore_source_restart(source) != FLAGCORE_RESULT_OK) return 1;
  if (!write_file(path, PAYLOAD("false", "4"))) return 2;
  if (!wait_for_time(source, 4)) { fprintf(stderr, "the restarted source did not load the file\n"); return 1; }
  if (flagcore_store_check_gate(store, user, (const uint8_t *)"g", 1, &value) != FLAGCORE_RESULT_OK || value) return 1;
  flagcore_source_free(source);
  flagcore_source_free(NULL);
  /* The store keeps serving after its source stopped. */
  if (flagcore_store_check_gate(store, user, (const uint8_t *)"g", 1, &value) != FLAGCORE_RESULT_OK || value) return 1;
  flagcore_user_free(user);
  flagcore_store_free(store);
  remove(path);
  printf("source: a file edit flipped the gate from C; after a fork the child saw FORKED, restarted and saw the gate flip\n");
  return 0;
}
