/*
 * schedule.c - the learning rate as a function of the step.
 *
 * `step` is the schedule's own count. The trainer (src/train/trainer.c)
 * asks for step + 1, the number of the update about to be made, so its
 * first update runs at base / W, never at 0. With
 * W = warmup_steps, S = total_steps, base = base_lr, final = final_lr:
 *
 *   warm-up    step < W:   lr = base * step / W        (0 at step 0, rising
 *                                                        linearly to base)
 *   after it,  step >= W, by decay:
 *     NONE       lr = base
 *     LINEAR     lr = final + (base - final) * (1 - q)
 *     COSINE     lr = final + (base - final) * (1 + cos(pi * q)) / 2
 *                where q = (step - W) / (S - W), clamped to [0, 1]; so lr is
 *                base at step W and final from step S on. If S <= W the
 *                decay is instant: lr = final from step W on.
 *     INV_SQRT   lr = base * sqrt(max(W, 1) / max(step, 1))
 *                equal to base at step W and falling as 1/sqrt(step) after
 *                it (the Transformer paper's "Noam" shape). final_lr and
 *                total_steps are not used.
 *
 * A negative step counts as 0. A NULL schedule gives 0. The arithmetic
 * runs in double and the result is rounded to float once.
 */
#include "internal.h"

#include <math.h>

static double warmup_lr(const at_schedule *s, long step) {
    return (double)s->base_lr * (double)step / (double)s->warmup_steps;
}

/* Fraction of the decay phase done at step (>= warmup), in [0, 1]. */
static double decay_progress(const at_schedule *s, long step) {
    long span = s->total_steps - s->warmup_steps;
    if (span <= 0) return 1.0;
    double q = (double)(step - s->warmup_steps) / (double)span;
    return q < 0.0 ? 0.0 : (q > 1.0 ? 1.0 : q);
}

static double decayed_lr(const at_schedule *s, long step) {
    const double base = s->base_lr, final = s->final_lr;
    const double pi = 3.14159265358979323846;
    switch (s->decay) {
    case AT_DECAY_NONE: return base;
    case AT_DECAY_LINEAR: return final + (base - final) * (1.0 - decay_progress(s, step));
    case AT_DECAY_COSINE:
        return final + (base - final) * 0.5 * (1.0 + cos(pi * decay_progress(s, step)));
    case AT_DECAY_INV_SQRT: {
        double w = s->warmup_steps > 1 ? (double)s->warmup_steps : 1.0;
        double t = step > 1 ? (double)step : 1.0;
        return base * sqrt(w / t);
    }
    }
    return base;
}

float at_schedule_lr(const at_schedule *schedule, long step) {
    if (!schedule) return 0.0f;
    if (step < 0) step = 0;
    if (step < schedule->warmup_steps) return (float)warmup_lr(schedule, step);
    return (float)decayed_lr(schedule, step);
}
