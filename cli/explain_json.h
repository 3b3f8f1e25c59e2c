/*
 * explain_json.h - one step's explanation in words and JSON
 * (explain_json.c), for `attend explain` and the lab's /api/explain.
 */
#ifndef ATTEND_CLI_EXPLAIN_JSON_H
#define ATTEND_CLI_EXPLAIN_JSON_H

#include "cli.h"

#include <json-c/json.h>

/* Every equation of a step, named (the keys of the JSON's "equations"):
 * luong "state" (its cell), then "score", "weights", "contribution",
 * "context", then the seed's "reset", "update", "proposal", "next_state",
 * "output" or luong's "attentional", "output". out gets them in that
 * order; returns how many. The one text of each equation, for the
 * terminal and the lab's page alike. */
enum { EXPLAIN_MAX_EQUATIONS = 10 };
typedef struct explain_equation {
    const char *name, *text;
} explain_equation;
int explain_equations(const at_step_explanation *x, explain_equation out[EXPLAIN_MAX_EQUATIONS]);
/* The text of the equation called name (one of the above), "" if x has none. */
const char *explain_equation_text(const at_step_explanation *x, const char *name);

/* Every number of x as one JSON object (docs/explain.md, "--json"), text
 * being the translated input; NULL when out of memory. The caller releases
 * it with json_object_put. */
json_object *explain_json(const char *text, const at_step_explanation *x);

#endif
