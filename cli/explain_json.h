/*
 * explain_json.h - one step's explanation in words and JSON
 * (explain_json.c), for `attend explain` and the lab's /api/explain.
 */
#ifndef ATTEND_CLI_EXPLAIN_JSON_H
#define ATTEND_CLI_EXPLAIN_JSON_H

#include "cli.h"

#include <json-c/json.h>

/* The score's and the weights' equations of x's family, as
 * docs/mechanisms writes them (static text). */
const char *explain_score_equation(const at_step_explanation *x);
const char *explain_weight_equation(const at_step_explanation *x);

/* Every number of x as one JSON object (docs/explain.md, "--json"), text
 * being the translated input; NULL when out of memory. The caller releases
 * it with json_object_put. */
json_object *explain_json(const char *text, const at_step_explanation *x);

#endif
