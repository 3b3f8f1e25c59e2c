/*
 * model_options.h - options that shape the seq2seq model's encoder, for
 * every command that makes a model (attend train, and any other trainer of
 * an at_seq2seq): one table of names, ranges and help text, one parser.
 */
#ifndef ATTEND_CLI_MODEL_OPTIONS_H
#define ATTEND_CLI_MODEL_OPTIONS_H

#include "cli.h"

/* The options' lines for a --help text, each ending in a newline. */
extern const char cli_encoder_options_help[];

/* If arg is one of these options, parse value into config: 1 when it is
 * fine, 0 after printing what is wrong (the option, the range, the text);
 * -1 when arg is not one of them (config untouched). */
int cli_parse_encoder_option(const char *arg, const char *value, at_seq2seq_config *config);

#endif
