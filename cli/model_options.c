/*
 * model_options.c - the encoder's options: --encoder-layers N stacked
 * BiLSTMs and --dropout P between them (at_seq2seq_config's
 * encoder_layers and dropout; include/attend/models.h says where dropout
 * applies), and --output-dropout Q on the luong decoder's h~_t. Ranges are the library's, so a value the command line accepts
 * is one the model accepts; dropout with one layer is left to the library
 * to refuse, with its message naming both fields.
 */
#include "model_options.h"

#include <string.h>

const char cli_encoder_options_help[] =
    "  --encoder-layers N\n"
    "                    stacked BiLSTM encoder layers (default 1, at most 8)\n"
    "  --dropout P       dropout probability between encoder layers while training,\n"
    "                    in [0, 0.99] (default 0; needs --encoder-layers 2 or more)\n"
    "  --output-dropout Q dropout probability on the luong decoder's attentional\n"
    "                    vector (its output and input feed) while training, in\n"
    "                    [0, 0.99] (default 0)\n";

int cli_parse_encoder_option(const char *arg, const char *value, at_seq2seq_config *config) {
    if (!strcmp(arg, "--encoder-layers")) {
        long layers;
        if (!cli_parse_int(arg, value, 1, AT_SEQ2SEQ_MAX_ENCODER_LAYERS, &layers)) return 0;
        config->encoder_layers = (int)layers;
        return 1;
    }
    if (!strcmp(arg, "--dropout")) {
        double p;
        if (!cli_parse_float(arg, value, 0.0, 0.99, &p)) return 0;
        config->dropout = (float)p;
        return 1;
    }
    if (!strcmp(arg, "--output-dropout")) {
        double q;
        if (!cli_parse_float(arg, value, 0.0, 0.99, &q)) return 0;
        config->output_dropout = (float)q;
        return 1;
    }
    return -1;
}
