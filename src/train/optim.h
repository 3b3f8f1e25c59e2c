/*
 * optim.h - the insides of an optimiser, shared by the update
 * (src/train/optim.c) and the state file (src/train/optim_state.c).
 */
#ifndef ATTEND_TRAIN_OPTIM_H
#define ATTEND_TRAIN_OPTIM_H

#include "internal.h"

struct at_optim {
    at_optim_config config; /* defaults filled in                           */
    at_params *params;
    int count;           /* parameters in the set at create              */
    size_t numel;        /* their total element count                    */
    long steps;          /* updates made                                 */
    float *state;        /* SGD: b (numel); Adam(W): m then v (2 numel)  */
    size_t state_floats; /* floats in state (0 when state is NULL)       */
};

/* AT_ERR_STATE, naming `what`, if the parameter set gained or lost a
 * parameter since the optimiser was created. */
at_status ati_optim_check_params(at_ctx *ctx, const at_optim *opt, const char *what);

#endif
