/* Exposure records reach a C callback with their secondary exposures; the expected values
 * are the official core's for examples/data/demo.json (examples/tests/data/demo, user 0).
 * The callback calls back into the library (evaluating with the same store, loading a
 * payload), and a record is usable only during its own callback.
 *
 *   exposures DEMO.json
 */
#include "flagcore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct seen {
  int count;
  int checked;
  int failures;
  int depth;
  int reentered;
  const flagcore_exposure *last;
  flagcore_store *store;
  flagcore_user *user;
  const char *payload;
  size_t payload_len;
};

static int str_eq(flagcore_str s, const char *want) {
  return s.len == strlen(want) && memcmp(s.data, want, s.len) == 0;
}

#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "check failed: %s\n", #cond); seen->failures++; } } while (0)

static void on_exposure(void *userdata, const flagcore_exposure *e) {
  struct seen *seen = userdata;
  seen->count++;
  seen->last = e;
  if (seen->depth > 0) {
    /* The nested exposure of the gate evaluated from inside the outer callback. */
    EXPECT(str_eq(e->name, "team_dogfood") && e->value);
    return;
  }
  if (!str_eq(e->name, "new_checkout")) return;
  seen->checked++;
  EXPECT(e->kind == FLAGCORE_KIND_GATE);
  EXPECT(e->value);
  EXPECT(str_eq(e->rule_id, "rule_dogfood"));
  EXPECT(str_eq(e->user_id, "ana"));
  EXPECT(e->group_name.len == 0);
  EXPECT(e->ruleset_time == 1764000000000ULL);
  EXPECT(e->secondary_count == 1);
  flagcore_str gate, rule;
  bool value = false;
  EXPECT(flagcore_exposure_secondary(e, 0, &gate, &value, &rule) == FLAGCORE_RESULT_OK);
  EXPECT(str_eq(gate, "team_dogfood") && value && str_eq(rule, "rule_team"));
  EXPECT(flagcore_exposure_secondary(e, 1, &gate, &value, &rule) == FLAGCORE_RESULT_NOT_FOUND);
  EXPECT(flagcore_exposure_secondary(NULL, 0, &gate, &value, &rule) == FLAGCORE_RESULT_NULL_PARAMETER);

  /* Regression (outside review): outputs are written only on success; the gate used to be
   * written before the NULL rule_id was noticed. */
  flagcore_str untouched = {(const uint8_t *)"x", 1};
  gate = untouched;
  value = false;
  EXPECT(flagcore_exposure_secondary(e, 0, &gate, &value, NULL) == FLAGCORE_RESULT_NULL_PARAMETER);
  EXPECT(gate.data == untouched.data && gate.len == 1 && !value);
  EXPECT(flagcore_exposure_secondary(e, 0, NULL, &value, &rule) == FLAGCORE_RESULT_NULL_PARAMETER && !value);

  /* A copy of the record is not the record of the running callback. */
  flagcore_exposure copy = *e;
  EXPECT(flagcore_exposure_secondary(&copy, 0, &gate, &value, &rule) == FLAGCORE_RESULT_INVALID_HANDLE);

  /* Calling back into the library: evaluate with the same store (a nested exposure), load
   * a payload into it; the outer record stays readable afterwards. */
  if (!seen->reentered) {
    seen->reentered = 1;
    seen->depth++;
    bool nested = false;
    EXPECT(flagcore_store_check_gate(seen->store, seen->user, (const uint8_t *)"team_dogfood", 12, &nested) == FLAGCORE_RESULT_OK && nested);
    EXPECT(flagcore_store_load_json(seen->store, (const uint8_t *)seen->payload, seen->payload_len, NULL, 0, NULL) == FLAGCORE_RESULT_OK);
    seen->depth--;
    EXPECT(seen->last != e); /* the nested callback ran, with its own record */
    EXPECT(flagcore_exposure_secondary(e, 0, &gate, &value, &rule) == FLAGCORE_RESULT_OK);
    EXPECT(str_eq(gate, "team_dogfood") && value && str_eq(rule, "rule_team"));
  }
  seen->last = e;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 2;
  static char demo[1 << 16];
  size_t len = fread(demo, 1, sizeof demo, f);
  fclose(f);

  struct seen seen_ = {0};
  struct seen *seen = &seen_;
  seen->payload = demo;
  seen->payload_len = len;
  flagcore_store *store = NULL;
  if (flagcore_store_new_with_exposures(NULL, 0, NULL, seen, &store) != FLAGCORE_RESULT_NULL_PARAMETER) return 1;
  if (flagcore_store_new_with_exposures(NULL, 0, on_exposure, seen, &store) != FLAGCORE_RESULT_OK) return 1;
  if (flagcore_store_load_json(store, (const uint8_t *)demo, len, NULL, 0, NULL) != FLAGCORE_RESULT_OK) return 1;
  flagcore_user *ana = NULL;
  const char *json = "{\"userID\": \"ana\", \"email\": \"ana@acme.com\"}";
  if (flagcore_user_from_json((const uint8_t *)json, strlen(json), &ana) != FLAGCORE_RESULT_OK) return 1;
  seen->store = store;
  seen->user = ana;
  bool value = false;
  if (flagcore_store_check_gate(store, ana, (const uint8_t *)"new_checkout", 12, &value) != FLAGCORE_RESULT_OK || !value) return 1;
  /* The record of a callback that returned is refused (the pointer is not dereferenced). */
  flagcore_str gate, rule;
  EXPECT(seen->last != NULL && flagcore_exposure_secondary(seen->last, 0, &gate, &value, &rule) == FLAGCORE_RESULT_INVALID_HANDLE);
  flagcore_evaluation *ev = NULL;
  if (flagcore_store_evaluate(store, ana, FLAGCORE_KIND_GATE, (const uint8_t *)"new_checkout", 12, &ev) != FLAGCORE_RESULT_OK) return 1;
  flagcore_evaluation_free(ev);
  if (flagcore_store_evaluate(store, ana, FLAGCORE_KIND_DYNAMIC_CONFIG, (const uint8_t *)"pricing", 7, &ev) != FLAGCORE_RESULT_OK) return 1;
  flagcore_evaluation_free(ev);
  flagcore_user_free(ana);
  flagcore_store_free(store);
  printf("exposures: %d logged, %d checked, %d re-entered, %d failures\n", seen->count, seen->checked, seen->reentered, seen->failures);
  /* new_checkout twice, team_dogfood once from inside the callback, pricing once. */
  return seen->count == 4 && seen->checked == 2 && seen->reentered == 1 && seen->failures == 0 ? 0 : 1;
}
