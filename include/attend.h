/*
 * attend.h - the whole public contract of attend, by layer:
 *
 *   attend/core.h       tensors, context, ops, layers, optimisers,
 *                       checkpoints, the trainer             libattend
 *   attend/attention.h  the ten attention families           libattend
 *   attend/text.h       UTF-8, vocabularies, pairs, TSV      libattend
 *   attend/models.h     the seq2seq translator, its task     libattend
 *   attend/lm.h         character language models            libattend
 *   attend/classify.h   documents, the HAN classifier        libattend
 *   attend/data.h       the ICU date data set                libattend-data (ICU)
 *   attend/mail.h       mail as text, the SpamAssassin corpus libattend-data (GMime, libxml2)
 *   attend/viz.h        figures                              libattend-viz (cairo, pango)
 *
 * A program that needs one attention layer includes <attend/attention.h>
 * and links libattend alone (pkg-config attend): OpenBLAS, OpenMP and
 * json-c, nothing else. The conventions every function follows are at the
 * top of attend/core.h.
 */
#ifndef ATTEND_H
#define ATTEND_H

#include "attend/core.h"
#include "attend/attention.h"
#include "attend/text.h"
#include "attend/models.h"
#include "attend/lm.h"
#include "attend/classify.h"
#include "attend/data.h"
#include "attend/mail.h"
#include "attend/viz.h"

#endif /* ATTEND_H */
