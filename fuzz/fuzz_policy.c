/*
 * fuzz_policy.c: libFuzzer target for the IAM policy grammar and
 * evaluator (auth/policy.c).
 *
 * The input is a policy document. Invariants checked: validation never
 * crashes and always leaves a terminated message on failure; any
 * document that parses as JSON evaluates (identity and trust forms) to
 * one of the three decisions without crashing, valid or not.
 * Build: tools/fuzz-replay (meson -Dfuzz=replay|instrumented, fuzz/meson.build).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char msg[256];
    msg[0] = 'x';
    if (!auth_policy_valid(text, size % 2 == 0, msg, sizeof msg) && !memchr(msg, '\0', sizeof msg))
        abort();
    json_t *doc = json_loads(text, 0, NULL);
    if (doc) {
        auth_req_ctx r = {.action = "greengrass:CreateGroup", .resource = "arn:aws:greengrass:us-east-1:1:/greengrass/groups/g",
                          .principal_arn = "arn:aws:iam::123456789012:user/bob", .principal_account = "123456789012",
                          .user_name = "bob", .source_ip = "10.1.2.3", .region = "us-east-1", .now_ms = 1700000000000LL};
        auth_decision d = auth_policy_eval(doc, &r);
        auth_decision t = auth_trust_eval(doc, &r, "AWS", r.principal_arn, r.principal_account);
        if ((unsigned)d > AUTH_EXPLICIT_DENY || (unsigned)t > AUTH_EXPLICIT_DENY)
            abort();
        json_decref(doc);
    }
    free(text);
    return 0;
}
