/* Freed handles are refused while the allocator has not reused their memory (best effort:
 * the tag is cleared on free, and glibc overwrites the first word of a freed chunk anyway),
 * and a second free is ignored (it was glibc's "double free detected" abort). Compiled
 * without AddressSanitizer, which would rightly report these reads of freed memory.
 *
 *   handles
 */
#include "flagcore.h"

#include <stdio.h>
#include <string.h>

#define S(lit) (const uint8_t *)(lit), strlen(lit)
#define REQUIRE(cond)                                                           \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);                \
      return 1;                                                                 \
    }                                                                           \
  } while (0)

int main(void) {
  flagcore_store *store = NULL;
  flagcore_user *user = NULL;
  flagcore_evaluation *ev = NULL;
  bool value = false;
  REQUIRE(flagcore_store_new(NULL, 0, &store) == FLAGCORE_RESULT_OK);
  REQUIRE(flagcore_user_from_json(S("{\"userID\": \"ana\"}"), &user) == FLAGCORE_RESULT_OK);

  flagcore_user *freed_user = user;
  flagcore_user_free(user);
  REQUIRE(flagcore_store_check_gate(store, freed_user, S("g"), &value) == FLAGCORE_RESULT_INVALID_HANDLE);
  REQUIRE(flagcore_user_set_field(freed_user, FLAGCORE_USER_FIELD_EMAIL, S("x")) == FLAGCORE_RESULT_INVALID_HANDLE);
  flagcore_user_free(freed_user);

  REQUIRE(flagcore_user_from_json(S("{\"userID\": \"ana\"}"), &user) == FLAGCORE_RESULT_OK);
  REQUIRE(flagcore_store_evaluate(store, user, FLAGCORE_KIND_GATE, S("g"), &ev) == FLAGCORE_RESULT_OK);
  flagcore_evaluation *freed_ev = ev;
  flagcore_evaluation_free(ev);
  REQUIRE(flagcore_evaluation_value(freed_ev, &value) == FLAGCORE_RESULT_INVALID_HANDLE);
  flagcore_evaluation_free(freed_ev);

  flagcore_store *freed_store = store;
  flagcore_store_free(store);
  REQUIRE(flagcore_store_check_gate(freed_store, user, S("g"), &value) == FLAGCORE_RESULT_INVALID_HANDLE);
  REQUIRE(flagcore_store_load_json(freed_store, S("{}"), NULL, 0, NULL) == FLAGCORE_RESULT_INVALID_HANDLE);
  flagcore_store_free(freed_store);

  flagcore_user_free(user);
  printf("handles: freed handles refused, double frees ignored\n");
  return 0;
}
