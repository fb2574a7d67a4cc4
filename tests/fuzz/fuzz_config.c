/* tests/fuzz/fuzz_config.c — a Triton config.pbtxt (protobuf text format), untrusted: parse it;
 * what parses must turn into the config JSON the server reports.
 * Seeds: the shipped repository's config files and scripts/fuzz.sh's variants. */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "server/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    model_config c;
    model_config_init(&c, "fuzz");
    if (model_config_parse((const char *)data, size, "fuzz.pbtxt", &c) != STRATA_OK) return 0;
    cJSON *j = model_config_to_json(&c);
    if (!j) fuzz_fail("a config that parses has no JSON form");
    char *s = cJSON_PrintUnformatted(j);
    if (!s) fuzz_fail("cannot print the config JSON");
    cJSON_free(s);
    cJSON_Delete(j);
    return 0;
}
