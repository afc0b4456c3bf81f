/* The C API end to end, and its behaviour under misuse.
 *
 *   api DEMO.json
 *
 * DEMO.json is examples/data/demo.json; the expected answers below are those of Statsig's
 * official core for that payload (examples/tests/data/demo/expected.jsonl, users 0 and 1).
 */
#include "flagcore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                     \
    }                                                                 \
  } while (0)
#define S(lit) (const uint8_t *)(lit), strlen(lit)

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(2); }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static int str_eq(flagcore_str s, const char *want) {
  return s.len == strlen(want) && memcmp(s.data, want, s.len) == 0;
}

static flagcore_user *user_ana(void) {
  flagcore_user *u = NULL;
  CHECK(flagcore_user_new(&u) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_user_set_field(u, FLAGCORE_USER_FIELD_USER_ID, S("ana")) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_user_set_field(u, FLAGCORE_USER_FIELD_EMAIL, S("ana@acme.com")) == FLAGCORE_RESULT_OK);
  return u;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  size_t len;
  char *demo = slurp(argv[1], &len);

  flagcore_store *store = NULL;
  CHECK(flagcore_store_new(NULL, 0, &store) == FLAGCORE_RESULT_OK);

  /* Before any ruleset: defaults, reason NO_RULESET. */
  flagcore_user *ana = user_ana();
  bool value = true;
  CHECK(flagcore_store_check_gate(store, ana, S("team_dogfood"), &value) == FLAGCORE_RESULT_OK);
  CHECK(!value);

  /* A bad payload is rejected with a message; nothing changes. */
  char err[256];
  size_t err_len = 0;
  CHECK(flagcore_store_load_json(store, S("{\"feature_gates\": []"), (uint8_t *)err, sizeof err, &err_len) == FLAGCORE_RESULT_LOAD_ERROR);
  CHECK(err_len > 0);
  uint64_t time = 1;
  CHECK(flagcore_store_ruleset_time(store, &time) == FLAGCORE_RESULT_OK && time == 0);

  CHECK(flagcore_store_load_json(store, (const uint8_t *)demo, len, NULL, 0, NULL) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_store_ruleset_time(store, &time) == FLAGCORE_RESULT_OK && time == 1764000000000ULL);

  CHECK(flagcore_store_check_gate(store, ana, S("team_dogfood"), &value) == FLAGCORE_RESULT_OK && value);
  CHECK(flagcore_store_check_gate(store, ana, S("no_such_gate"), &value) == FLAGCORE_RESULT_OK && !value);

  /* Full evaluation: rule id, group, typed parameters, JSON. */
  flagcore_evaluation *ev = NULL;
  CHECK(flagcore_store_evaluate(store, ana, FLAGCORE_KIND_EXPERIMENT, S("checkout_button"), &ev) == FLAGCORE_RESULT_OK);
  flagcore_str s;
  CHECK(flagcore_evaluation_string(ev, FLAGCORE_EVALUATION_RULE_ID, &s) == FLAGCORE_RESULT_OK && str_eq(s, "grp_control"));
  CHECK(flagcore_evaluation_string(ev, FLAGCORE_EVALUATION_GROUP_NAME, &s) == FLAGCORE_RESULT_OK && str_eq(s, "Control"));
  CHECK(flagcore_evaluation_string(ev, FLAGCORE_EVALUATION_ALLOCATED_EXPERIMENT, &s) == FLAGCORE_RESULT_NOT_FOUND);
  CHECK(flagcore_evaluation_get_string(ev, S("color"), &s) == FLAGCORE_RESULT_OK && str_eq(s, "blue"));
  double number = 0;
  CHECK(flagcore_evaluation_get_number(ev, S("color"), &number) == FLAGCORE_RESULT_NOT_FOUND);
  flagcore_reason reason;
  CHECK(flagcore_evaluation_details(ev, &reason, &time) == FLAGCORE_RESULT_OK && reason == FLAGCORE_REASON_RECOGNIZED);
  /* JSON into a buffer: too small first, then exactly the size reported. */
  size_t needed = 0;
  char small[4];
  CHECK(flagcore_evaluation_json(ev, (uint8_t *)small, sizeof small, &needed) == FLAGCORE_RESULT_BUFFER_TOO_SMALL);
  CHECK(needed == strlen("{\"color\":\"blue\",\"label\":\"Buy\"}"));
  char *json = malloc(needed);
  CHECK(flagcore_evaluation_json(ev, (uint8_t *)json, needed, &needed) == FLAGCORE_RESULT_OK);
  CHECK(memcmp(json, "{\"color\":\"blue\",\"label\":\"Buy\"}", needed) == 0);
  free(json);
  flagcore_evaluation_free(ev);

  /* A user from Statsig's JSON, and a config with a number parameter. */
  flagcore_user *bo = NULL;
  CHECK(flagcore_user_from_json(S("{\"userID\": \"bo\", \"email\": \"bo@example.org\", \"country\": \"NZ\"}"), &bo) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_store_evaluate(store, bo, FLAGCORE_KIND_DYNAMIC_CONFIG, S("pricing"), &ev) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_evaluation_get_number(ev, S("discount"), &number) == FLAGCORE_RESULT_OK && number == 5.0);
  CHECK(flagcore_evaluation_get_string(ev, S("currency"), &s) == FLAGCORE_RESULT_OK && str_eq(s, "NZD"));
  CHECK(flagcore_evaluation_string(ev, FLAGCORE_EVALUATION_RULE_ID, &s) == FLAGCORE_RESULT_OK && str_eq(s, "rule_nz"));
  flagcore_evaluation_free(ev);

  /* Custom attributes of every type. */
  CHECK(flagcore_user_set_string(bo, FLAGCORE_ATTRIBUTES_CUSTOM, S("plan"), S("pro")) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_user_set_number(bo, FLAGCORE_ATTRIBUTES_CUSTOM, S("level"), 3.5) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_user_set_bool(bo, FLAGCORE_ATTRIBUTES_PRIVATE, S("beta"), true) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_user_set_string(bo, FLAGCORE_ATTRIBUTES_CUSTOM_IDS, S("stableID"), S("s-1")) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_user_set_string(bo, FLAGCORE_ATTRIBUTES_ENVIRONMENT, S("tier"), S("staging")) == FLAGCORE_RESULT_OK);

  /* Overrides: a kill switch for everyone, then for one user only. */
  CHECK(flagcore_store_check_gate(store, bo, S("payments_enabled"), &value) == FLAGCORE_RESULT_OK && value);
  CHECK(flagcore_store_override_gate(store, S("payments_enabled"), false, NULL, 0) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_store_check_gate(store, bo, S("payments_enabled"), &value) == FLAGCORE_RESULT_OK && !value);
  CHECK(flagcore_store_override_gate(store, S("payments_enabled"), true, S("bo")) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_store_check_gate(store, bo, S("payments_enabled"), &value) == FLAGCORE_RESULT_OK && value);
  CHECK(flagcore_store_check_gate(store, ana, S("payments_enabled"), &value) == FLAGCORE_RESULT_OK && !value);
  CHECK(flagcore_store_override_value(store, FLAGCORE_KIND_DYNAMIC_CONFIG, S("pricing"), S("{\"currency\": \"EUR\"}"), NULL, 0) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_store_evaluate(store, bo, FLAGCORE_KIND_DYNAMIC_CONFIG, S("pricing"), &ev) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_evaluation_get_string(ev, S("currency"), &s) == FLAGCORE_RESULT_OK && str_eq(s, "EUR"));
  CHECK(flagcore_evaluation_details(ev, &reason, &time) == FLAGCORE_RESULT_OK && reason == FLAGCORE_REASON_LOCAL_OVERRIDE);
  flagcore_evaluation_free(ev);
  CHECK(flagcore_store_override_value(store, FLAGCORE_KIND_GATE, S("x"), S("{}"), NULL, 0) == FLAGCORE_RESULT_INVALID_ARGUMENT);
  CHECK(flagcore_store_override_value(store, FLAGCORE_KIND_LAYER, S("x"), S("[1]"), NULL, 0) == FLAGCORE_RESULT_INVALID_JSON);
  CHECK(flagcore_store_clear_overrides(store) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_store_check_gate(store, ana, S("payments_enabled"), &value) == FLAGCORE_RESULT_OK && value);

  /* Misuse: NULLs, bad UTF-8, bad enums, bad JSON, double use, free(NULL). */
  CHECK(flagcore_store_check_gate(NULL, ana, S("g"), &value) == FLAGCORE_RESULT_NULL_PARAMETER);
  CHECK(flagcore_store_check_gate(store, NULL, S("g"), &value) == FLAGCORE_RESULT_NULL_PARAMETER);
  CHECK(flagcore_store_check_gate(store, ana, NULL, 3, &value) == FLAGCORE_RESULT_NULL_PARAMETER);
  CHECK(flagcore_store_check_gate(store, ana, NULL, 0, &value) == FLAGCORE_RESULT_OK && !value);
  CHECK(flagcore_store_check_gate(store, ana, S("g"), NULL) == FLAGCORE_RESULT_NULL_PARAMETER);
  const uint8_t bad_utf8[] = {0x67, 0xff, 0xfe};
  CHECK(flagcore_store_check_gate(store, ana, bad_utf8, sizeof bad_utf8, &value) == FLAGCORE_RESULT_INVALID_UTF8);
  CHECK(flagcore_user_set_field(ana, FLAGCORE_USER_FIELD_EMAIL, bad_utf8, sizeof bad_utf8) == FLAGCORE_RESULT_INVALID_UTF8);
  CHECK(flagcore_user_set_field(ana, 99, S("x")) == FLAGCORE_RESULT_INVALID_ARGUMENT);
  CHECK(flagcore_user_set_string(ana, 42, S("k"), S("v")) == FLAGCORE_RESULT_INVALID_ARGUMENT);
  CHECK(flagcore_user_set_number(ana, FLAGCORE_ATTRIBUTES_CUSTOM, S("k"), 1.0 / 0.0) == FLAGCORE_RESULT_INVALID_ARGUMENT);
  CHECK(flagcore_store_evaluate(store, ana, 7, S("g"), &ev) == FLAGCORE_RESULT_INVALID_ARGUMENT);
  CHECK(flagcore_store_evaluate(store, ana, FLAGCORE_KIND_GATE, S("g"), NULL) == FLAGCORE_RESULT_NULL_PARAMETER);
  flagcore_user *bad = NULL;
  CHECK(flagcore_user_from_json(S("{\"userID\": "), &bad) == FLAGCORE_RESULT_INVALID_JSON && bad == NULL);
  CHECK(flagcore_user_new(NULL) == FLAGCORE_RESULT_NULL_PARAMETER);
  CHECK(flagcore_store_load_json(store, NULL, 5, NULL, 0, NULL) == FLAGCORE_RESULT_NULL_PARAMETER);
  /* Loading garbage keeps the last good ruleset. */
  CHECK(flagcore_store_load_json(store, S("<html>502</html>"), (uint8_t *)err, 8, &err_len) == FLAGCORE_RESULT_LOAD_ERROR);
  CHECK(err_len > 8);
  CHECK(flagcore_store_check_gate(store, ana, S("team_dogfood"), &value) == FLAGCORE_RESULT_OK && value);
  /* The same evaluation handle read twice gives the same borrowed string. */
  CHECK(flagcore_store_evaluate(store, ana, FLAGCORE_KIND_GATE, S("team_dogfood"), &ev) == FLAGCORE_RESULT_OK);
  flagcore_str a, b;
  CHECK(flagcore_evaluation_string(ev, FLAGCORE_EVALUATION_RULE_ID, &a) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_evaluation_string(ev, FLAGCORE_EVALUATION_RULE_ID, &b) == FLAGCORE_RESULT_OK);
  CHECK(a.data == b.data && str_eq(a, "rule_team"));
  flagcore_evaluation_free(ev);
  flagcore_evaluation_free(NULL);
  flagcore_user_free(NULL);
  flagcore_store_free(NULL);
  CHECK(strlen(flagcore_version()) > 0);

  /* Regression (outside review): a JSON array is not a user (serde read ["u1","a@b.com"] as
   * a userID and an email); nor is any other non-object. */
  CHECK(flagcore_user_from_json(S("[\"u1\",\"a@b.com\"]"), &bad) == FLAGCORE_RESULT_INVALID_JSON && bad == NULL);
  CHECK(flagcore_user_from_json(S("\"u1\""), &bad) == FLAGCORE_RESULT_INVALID_JSON && bad == NULL);
  CHECK(flagcore_user_from_json(S("null"), &bad) == FLAGCORE_RESULT_INVALID_JSON && bad == NULL);

  /* Regression: a length above PTRDIFF_MAX with a non-NULL pointer is rejected (it aborted
   * a debug build in slice::from_raw_parts and was undefined behaviour in release). */
  const size_t huge = (size_t)PTRDIFF_MAX + 1;
  value = true;
  CHECK(flagcore_store_check_gate(store, ana, (const uint8_t *)"g", huge, &value) == FLAGCORE_RESULT_INVALID_ARGUMENT && value);
  CHECK(flagcore_store_check_gate(store, ana, (const uint8_t *)"g", SIZE_MAX, &value) == FLAGCORE_RESULT_INVALID_ARGUMENT);
  CHECK(flagcore_store_load_json(store, (const uint8_t *)"{}", huge, NULL, 0, NULL) == FLAGCORE_RESULT_INVALID_ARGUMENT);
  CHECK(flagcore_user_from_json((const uint8_t *)"{}", SIZE_MAX, &bad) == FLAGCORE_RESULT_INVALID_ARGUMENT && bad == NULL);
  CHECK(flagcore_user_set_string(ana, FLAGCORE_ATTRIBUTES_CUSTOM, S("k"), (const uint8_t *)"v", huge) == FLAGCORE_RESULT_INVALID_ARGUMENT);
  CHECK(flagcore_store_override_gate(store, S("g"), true, (const uint8_t *)"u", huge) == FLAGCORE_RESULT_INVALID_ARGUMENT);

  /* Regression: handles are tagged with their kind; one of another kind is an error, and
   * `_free` of one is ignored. */
  CHECK(flagcore_store_check_gate((const flagcore_store *)ana, ana, S("team_dogfood"), &value) == FLAGCORE_RESULT_INVALID_HANDLE);
  CHECK(flagcore_store_check_gate(store, (const flagcore_user *)store, S("team_dogfood"), &value) == FLAGCORE_RESULT_INVALID_HANDLE);
  CHECK(flagcore_store_evaluate(store, ana, FLAGCORE_KIND_GATE, S("team_dogfood"), &ev) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_evaluation_value((const flagcore_evaluation *)store, &value) == FLAGCORE_RESULT_INVALID_HANDLE);
  CHECK(flagcore_user_set_field((flagcore_user *)ev, FLAGCORE_USER_FIELD_EMAIL, S("x")) == FLAGCORE_RESULT_INVALID_HANDLE);
  CHECK(flagcore_store_load_json((const flagcore_store *)ev, (const uint8_t *)demo, len, NULL, 0, NULL) == FLAGCORE_RESULT_INVALID_HANDLE);
  flagcore_user_free((flagcore_user *)store);
  flagcore_store_free((flagcore_store *)ev);
  flagcore_evaluation_free((flagcore_evaluation *)ana);
  CHECK(flagcore_store_check_gate(store, ana, S("team_dogfood"), &value) == FLAGCORE_RESULT_OK && value);
  CHECK(flagcore_evaluation_value(ev, &value) == FLAGCORE_RESULT_OK && value);

  /* Regression: outputs are written only on success. */
  reason = (flagcore_reason)77;
  CHECK(flagcore_evaluation_details(ev, &reason, NULL) == FLAGCORE_RESULT_NULL_PARAMETER && reason == (flagcore_reason)77);
  needed = 77;
  CHECK(flagcore_evaluation_json(ev, NULL, 16, &needed) == FLAGCORE_RESULT_NULL_PARAMETER && needed == 77);
  CHECK(flagcore_evaluation_json(ev, (uint8_t *)small, SIZE_MAX, &needed) == FLAGCORE_RESULT_INVALID_ARGUMENT && needed == 77);
  CHECK(flagcore_evaluation_json(ev, NULL, 0, &needed) == FLAGCORE_RESULT_BUFFER_TOO_SMALL && needed == 2); /* "{}" */
  flagcore_evaluation_free(ev);

  /* NULL user id means everyone; "" is rejected rather than taken as the user whose id is
   * empty. */
  CHECK(flagcore_store_override_gate(store, S("team_dogfood"), false, (const uint8_t *)"", 0) == FLAGCORE_RESULT_INVALID_ARGUMENT);
  CHECK(flagcore_store_override_value(store, FLAGCORE_KIND_DYNAMIC_CONFIG, S("pricing"), S("{}"), (const uint8_t *)"", 0) == FLAGCORE_RESULT_INVALID_ARGUMENT);
  flagcore_user *nobody = NULL;
  CHECK(flagcore_user_from_json(S("{\"userID\": \"\"}"), &nobody) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_store_check_gate(store, ana, S("team_dogfood"), &value) == FLAGCORE_RESULT_OK && value);
  CHECK(flagcore_store_override_gate(store, S("team_dogfood"), false, NULL, 0) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_store_check_gate(store, ana, S("team_dogfood"), &value) == FLAGCORE_RESULT_OK && !value);
  CHECK(flagcore_store_check_gate(store, nobody, S("team_dogfood"), &value) == FLAGCORE_RESULT_OK && !value);
  CHECK(flagcore_store_clear_overrides(store) == FLAGCORE_RESULT_OK);
  flagcore_user_free(nobody);

  /* An evaluation owns its data: it outlives its store. */
  flagcore_store *short_lived = NULL;
  CHECK(flagcore_store_new(NULL, 0, &short_lived) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_store_load_json(short_lived, (const uint8_t *)demo, len, NULL, 0, NULL) == FLAGCORE_RESULT_OK);
  CHECK(flagcore_store_evaluate(short_lived, ana, FLAGCORE_KIND_EXPERIMENT, S("checkout_button"), &ev) == FLAGCORE_RESULT_OK);
  flagcore_store_free(short_lived);
  CHECK(flagcore_evaluation_get_string(ev, S("color"), &s) == FLAGCORE_RESULT_OK && str_eq(s, "blue"));
  CHECK(flagcore_evaluation_string(ev, FLAGCORE_EVALUATION_GROUP_NAME, &s) == FLAGCORE_RESULT_OK && str_eq(s, "Control"));
  flagcore_evaluation_free(ev);

  /* Every result code has its own static text. */
  for (uint32_t code = 0; code <= FLAGCORE_RESULT_FORKED; code++) {
    const char *text = flagcore_result_text(code);
    CHECK(text != NULL && strlen(text) > 0 && strcmp(text, "unknown result code") != 0);
    for (uint32_t other = 0; other < code; other++) CHECK(strcmp(text, flagcore_result_text(other)) != 0);
  }
  CHECK(strcmp(flagcore_result_text(FLAGCORE_RESULT_OK), "ok") == 0);
  CHECK(strcmp(flagcore_result_text(FLAGCORE_RESULT_FORKED + 1), "unknown result code") == 0);
  CHECK(strcmp(flagcore_result_text(UINT32_MAX), "unknown result code") == 0);

  flagcore_user_free(ana);
  flagcore_user_free(bo);
  flagcore_store_free(store);
  free(demo);
  if (failures) {
    fprintf(stderr, "%d checks failed\n", failures);
    return 1;
  }
  printf("api: all checks passed\n");
  return 0;
}
