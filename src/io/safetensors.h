/*
 * safetensors.h - the safetensors reader and writer of src/io/safetensors.c
 * for any list of named tensors, not only a parameter set.
 *
 * at_checkpoint_save/load (attend.h) are these two applied to the tensors
 * of an at_params; the optimiser's state file (src/train/optim_state.c)
 * applies them to views of its moment buffers. Both keep every guarantee
 * of a checkpoint: an atomic save, and a load that validates the whole
 * file before it writes a single float. The writer is safetensors.c, the
 * reader (any file, any dtype: attend.h's at_safetensors_open) is
 * safetensors_read.c.
 */
#ifndef ATTEND_IO_SAFETENSORS_H
#define ATTEND_IO_SAFETENSORS_H

#include "internal.h"

/* Tensors to save or to fill, each with a unique name (tensor->name) and
 * its shape; only name, ndim, shape, size and data are used. noun says
 * what they are in messages ("parameter 'w' is missing from the file"). */
typedef struct ati_tensor_list {
    at_tensor *const *items;
    int count;
    const char *noun;
} ati_tensor_list;

/* Write every tensor (F32) and meta (may be NULL) to path, atomically. */
at_status ati_safetensors_save(at_ctx *ctx, const char *path, const ati_tensor_list *list,
                              const at_metadata *meta);

/* Fill every tensor of the list from path: each must be in the file with
 * its shape and a float dtype. only_these: 1 = a tensor in the file that
 * the list does not name is an AT_ERR_FORMAT; 0 = it is ignored. On any
 * error no tensor is changed. meta_out: NULL, or an empty at_metadata that
 * receives the file's metadata. (safetensors_read.c) */
at_status ati_safetensors_load(at_ctx *ctx, const char *path, const ati_tensor_list *list,
                              int only_these, at_metadata *meta_out);

/* The same in steps, on a file opened once with at_safetensors_open:
 * check_list only compares names, shapes and dtypes (no data is read);
 * fill checks the same, then reads and converts every tensor (all or none
 * change). */
at_status ati_safetensors_check_list(at_ctx *ctx, const at_safetensors *file,
                                    const ati_tensor_list *list, int only_these);
at_status ati_safetensors_fill(at_ctx *ctx, const at_safetensors *file,
                              const ati_tensor_list *list, int only_these);
/* The tensor `name` is in the file with this shape and a float dtype;
 * else AT_ERR_FORMAT (missing, not float) or AT_ERR_SHAPE, the message
 * calling it "NOUN 'NAME'". */
at_status ati_safetensors_check_tensor(at_ctx *ctx, const at_safetensors *file, const char *noun,
                                      const char *name, int ndim, const int *shape);
/* at_checkpoint_load on a file opened once: every parameter of the set
 * from the file (only_these: and no other tensor). (safetensors.c) */
at_status ati_checkpoint_fill(at_ctx *ctx, const at_safetensors *file, at_params *params,
                             int only_these);
/* Move the file's metadata into the empty *out (the handle keeps none). */
at_status ati_safetensors_take_metadata(at_ctx *ctx, at_safetensors *file, at_metadata *out);

/* ------------------------------------------- a model as one checkpoint
 * What the models' save and load (src/models/checkpoint.c, src/lm/model.c,
 * src/classify/model.c) share. (safetensors.c) */

/* at_checkpoint_save of params with, in its metadata, the caller's extra
 * entries (may be NULL), then the model's n parts: keys[i] = values[i]
 * (its configuration, its vocabularies ...). */
at_status ati_checkpoint_save_parts(at_ctx *ctx, const char *path, const at_params *params,
                                   const at_metadata *extra, int n, const char *const *keys,
                                   char *const *values);
/* An ati_params_check_fn for a model built from the open file `file` (an
 * at_safetensors *): each parameter must be a tensor of the file with its
 * shape (ati_safetensors_check_tensor), before it is allocated. */
at_status ati_checkpoint_check_parameter(at_ctx *ctx, void *file, const char *name, int ndim,
                                        const int *shape);
/* status, and where it says the file does not fit the model (AT_ERR_SHAPE,
 * AT_ERR_FORMAT) the message becomes "PREFIX: message". */
at_status ati_checkpoint_misfit(at_ctx *ctx, at_status status, const char *prefix);
/* The last step of a load: every parameter of the built model from the
 * file, which may hold no other tensor (a misfit said as "PREFIX: ..."),
 * then the file's metadata into meta_out (may be NULL). */
at_status ati_checkpoint_fill_model(at_ctx *ctx, at_safetensors *file, at_params *params,
                                   const char *prefix, at_metadata *meta_out);

#endif
