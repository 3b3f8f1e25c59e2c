/*
 * common.c - naming a layer's parameters as PyTorch's state_dict does.
 *
 * A layer registered under prefix "encoder" owns "encoder.weight_ih_l0" and
 * so on; with prefix "" the bare names. A checkpoint written from these
 * names loads into the matching torch.nn module with load_state_dict.
 */
#include "layers.h"

#include <stdio.h>

at_status layer_param(at_ctx *ctx, at_params *params, const char *prefix, const char *name,
                      const char *suffix, int ndim, const int *shape, at_tensor **out) {
    char full[256];
    int has_prefix = prefix && *prefix;
    int written = snprintf(full, sizeof full, "%s%s%s%s", has_prefix ? prefix : "",
                           has_prefix ? "." : "", name, suffix ? suffix : "");
    if (written < 0 || (size_t)written >= sizeof full)
        return at_ctx_fail(ctx, AT_ERR_ARGUMENT, "parameter name '%s.%s' is too long",
                           has_prefix ? prefix : "", name);
    return at_params_add(ctx, params, full, ndim, shape, out);
}
