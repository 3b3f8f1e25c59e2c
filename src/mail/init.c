/*
 * init.c - GMime and libxml2 are started once per process, whichever
 * thread asks first (pthread_once), and never shut down: a library does
 * not own the process, and another part of the program may use them too.
 * This is the only state src/mail keeps between calls.
 */
#define _POSIX_C_SOURCE 200809L
#include "mail.h"

#include <gmime/gmime.h>
#include <libxml/parser.h>
#include <pthread.h>

static pthread_once_t started = PTHREAD_ONCE_INIT;

static void start(void) {
    g_mime_init();
    xmlInitParser(); /* before any thread parses (libxml2's rule) */
}

void atm_init(void) {
    pthread_once(&started, start);
}
