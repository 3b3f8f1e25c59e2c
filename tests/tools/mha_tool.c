/*
 * mha_tool.c - run attend's multi-head attention once, forward and
 * backward, and write down everything torch.nn.MultiheadAttention needs to
 * redo it (tests/parity/test_multi_head_parity.py is the other half).
 *
 *     mha_tool CASE OUT.safetensors [SEED]        mha_tool --list
 *
 * Each case is one row of the table below: sizes, which masks, and whether
 * query, key and value are one tensor (self-attention) or the query is a
 * single decoder step (B, E), and the key, value and output sizes (kdim,
 * vdim, O; E when 0). The tool initialises an at_multi_head under prefix ""
 * (so the names are exactly torch's state_dict keys), moves the zero biases
 * to random values, draws random inputs, runs forward with per-head
 * weights, and backward from random gradients of the output and of the
 * weights. The file, written with at_checkpoint_save from a second
 * parameter set, holds:
 *
 *     in_proj_weight (or q_proj_weight, k_proj_weight, v_proj_weight when
 *     kdim or vdim != E), in_proj_bias, out_proj.weight, out_proj.bias
 *     query, key, value (or x for self-attention)
 *     seed.out, seed.weights  the gradients of the output and the weights
 *     out.out, out.weights    output (B, Tq, O), per-head weights (B, H, Tq, Tk)
 *     grad.NAME               every input's and every parameter's gradient
 *
 * and metadata: case, seed, sizes (JSON), causal ("0"/"1"), self, step, and
 * key_keep / full_keep: attend's masks as JSON 0/1 arrays, 1 = KEEP.
 * The weights carry a gradient (attend.h, "Weights."), so
 * L = sum(out · seed.out) + sum(weights · seed.weights).
 */
#include "parity_dump.h"

#include <stdlib.h>

typedef struct mha_case {
    int B, tq, tk, E, H; /* tq = 0: a decoder step, query (B, E)              */
    int padding;         /* key padding (B, Tk): row b keeps its first len[b]  */
    int lengths[4];
    int causal;
    int full;            /* a full mask (B·H·Tq, Tk), every row keeps >= 1 key */
    int self;            /* query = key = value = x                           */
    int kdim, vdim, out; /* key, value and output sizes; 0 = E            */
} mha_case;

/* The masks of the case (attend's convention, 1 = KEEP), into `keep`. */
static void make_mask(pd_run *r, uint8_t *keep, at_attn_mask *mask) {
    const mha_case *c = r->pc->data;
    int tq = c->tq ? c->tq : 1;
    *mask = (at_attn_mask){NULL, 0, c->causal};
    if (c->padding) {
        for (int b = 0; b < c->B; b++)
            for (int j = 0; j < c->tk; j++)
                keep[b * c->tk + j] = j < c->lengths[b];
        *mask = (at_attn_mask){keep, c->B, c->causal};
        pd_meta_mask(r, "key_keep", keep, (int)((size_t)c->B * c->tk));
    } else if (c->full) {
        int rows = c->B * c->H * tq;
        for (int row = 0; row < rows; row++) {
            for (int j = 0; j < c->tk; j++)
                keep[row * c->tk + j] = at_rng_uniform(&r->data_rng) < 0.6f;
            keep[row * c->tk + (int)at_rng_below(&r->data_rng, (uint32_t)c->tk)] = 1;
        }
        *mask = (at_attn_mask){keep, rows, c->causal};
        pd_meta_mask(r, "full_keep", keep, (int)((size_t)rows * c->tk));
    }
}

static void run_case(pd_run *r) {
    const mha_case *c = r->pc->data;
    at_multi_head layer;
    TRY(r, at_multi_head_init_sizes(r->ctx, &layer, r->model, "", c->E, c->H, c->kdim, c->vdim,
                                    c->out, &r->data_rng));
    int kdim = c->kdim ? c->kdim : c->E, vdim = c->vdim ? c->vdim : c->E;
    int O = c->out ? c->out : c->E;
    /* both biases start at zero: move them so a wrong bias term would show */
    pd_randomise(r, layer.in_proj_bias, -0.5f, 0.5f);
    pd_randomise(r, layer.out_proj_bias, -0.5f, 0.5f);

    int qs[3] = {c->B, c->tq, c->E}, ks[3] = {c->B, c->tk, kdim}, vs[3] = {c->B, c->tk, vdim};
    at_tensor *query, *key, *value;
    if (c->self) {
        query = key = value = pd_input(r, "x", 3, qs, -1.0f, 1.0f, 1);
    } else {
        if (!c->tq) qs[1] = c->E; /* a decoder step (B, E) */
        query = pd_input(r, "query", c->tq ? 3 : 2, qs, -1.0f, 1.0f, 1);
        key = pd_input(r, "key", 3, ks, -1.0f, 1.0f, 1);
        value = pd_input(r, "value", 3, vs, -1.0f, 1.0f, 1);
    }
    uint8_t *keep = calloc((size_t)c->B * c->H * (c->tq ? c->tq : 1) * c->tk, 1);
    if (!keep) pd_die(r, "out of memory");
    at_attn_mask mask;
    make_mask(r, keep, &mask);

    at_tensor *out, *weights;
    TRY(r, at_multi_head_forward(r->ctx, &layer, query, key, value, &mask, &out, &weights));
    pd_seed_extra(r, "weights", weights, 0); /* the weights carry a gradient */
    pd_backward_from(r, "out", out);

    if (c->self) {
        pd_put_grad(r, "x", query);
    } else {
        pd_put_grad(r, "query", query);
        pd_put_grad(r, "key", key);
        pd_put_grad(r, "value", value);
    }
    pd_put_params(r);
    pd_meta(r, "sizes",
            "{\"B\": %d, \"Tq\": %d, \"Tk\": %d, \"E\": %d, \"H\": %d, \"kdim\": %d, "
            "\"vdim\": %d, \"O\": %d}",
            c->B, c->tq ? c->tq : 1, c->tk, c->E, c->H, kdim, vdim, O);
    pd_meta(r, "causal", "%d", c->causal ? 1 : 0);
    pd_meta(r, "self", "%d", c->self ? 1 : 0);
    pd_meta(r, "step", "%d", c->tq ? 0 : 1);
    free(keep);
}

static const pd_case cases[] = {
    {"mha_plain", run_case, 0, &(const mha_case){2, 3, 5, 8, 2, 0, {0}, 0, 0, 0, 0, 0, 0}},
    {"mha_one_head", run_case, 0, &(const mha_case){2, 4, 4, 6, 1, 0, {0}, 0, 0, 0, 0, 0, 0}},
    {"mha_padding", run_case, 0, &(const mha_case){3, 3, 5, 8, 4, 1, {5, 2, 4}, 0, 0, 0, 0, 0, 0}},
    {"mha_causal", run_case, 0, &(const mha_case){2, 4, 6, 6, 3, 0, {0}, 1, 0, 0, 0, 0, 0}},
    {"mha_padding_causal", run_case, 0,
     &(const mha_case){3, 4, 5, 4, 2, 1, {5, 2, 3}, 1, 0, 0, 0, 0, 0}},
    {"mha_full_mask", run_case, 0, &(const mha_case){2, 3, 4, 4, 2, 0, {0}, 0, 1, 0, 0, 0, 0}},
    {"mha_self_causal", run_case, 0, &(const mha_case){2, 5, 5, 6, 3, 0, {0}, 1, 0, 1, 0, 0, 0}},
    {"mha_step_padding", run_case, 0,
     &(const mha_case){3, 0, 4, 4, 2, 1, {4, 1, 3}, 0, 0, 0, 0, 0, 0}},
    {"mha_tq1_tk1", run_case, 0, &(const mha_case){2, 1, 1, 4, 2, 0, {0}, 0, 0, 0, 0, 0, 0}},
    /* kdim != vdim != E, as torch.nn.MultiheadAttention(E, H, kdim, vdim) */
    {"mha_kdim_vdim", run_case, 0, &(const mha_case){2, 3, 5, 8, 2, 0, {0}, 0, 0, 0, 3, 6, 0}},
    {"mha_kdim_vdim_padding_causal", run_case, 0,
     &(const mha_case){3, 4, 5, 6, 3, 1, {5, 2, 3}, 1, 0, 0, 5, 4, 0}},
    {"mha_kdim_vdim_step", run_case, 0,
     &(const mha_case){3, 0, 4, 4, 2, 1, {4, 1, 3}, 0, 0, 0, 7, 2, 0}},
    {"mha_vdim_only_full_mask", run_case, 0,
     &(const mha_case){2, 3, 4, 4, 2, 0, {0}, 0, 1, 0, 0, 5, 0}},
    /* an output size O != E: torch with out_proj = nn.Linear(E, O) */
    {"mha_kdim_vdim_out", run_case, 0,
     &(const mha_case){2, 3, 4, 4, 2, 1, {4, 2}, 0, 0, 0, 3, 5, 6}},
};

int main(int argc, char **argv) {
    static const pd_tool tool = {
        .name = "mha_tool",
        .cases = cases,
        .n_cases = (int)(sizeof cases / sizeof cases[0]),
        .description = "Runs multi-head attention forward and backward and saves inputs, outputs,\n"
                       "the output-gradient seed, parameters and gradients in one safetensors "
                       "file.\n",
        .seed = 20240612ull,
        .data_xor = 0, /* one generator: the layer's init and all data */
    };
    return pd_main(argc, argv, &tool);
}
