/*
 * serve.c - `attend serve [--port N] [--host H] [--models DIR]`: the
 * attention lab, a page and a JSON API on this machine (docs/lab.md).
 *
 * The command finds the models under DIR (serve_models.c), opens the
 * listening socket itself - so "port in use" or "no such address" is said
 * in plain words before anything starts - and hands it to the HTTP server
 * (serve_http.c). It binds 127.0.0.1 unless --host says otherwise; port 0
 * takes any free port (the line "attend serve: http://HOST:PORT/" on
 * standard output says which). Ctrl-C or SIGTERM stops it: the signals are
 * blocked before any thread starts, so every thread inherits the mask and
 * the main thread alone takes them with sigwait; the server then finishes
 * the requests it holds, and everything is freed.
 */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo, sigwait */
#include "serve.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { DEFAULT_PORT = 8360, SERVE_THREADS = 4 };

static int usage(FILE *out) {
    fprintf(out,
            "usage: attend serve [--port N] [--host H] [--models DIR]\n"
            "The attention lab: a page to type into a model and watch its attention, and\n"
            "to compare models side by side, with the JSON API behind it (docs/lab.md).\n"
            "  --port N      the port (default %d; 0 = any free port, printed at start)\n"
            "  --host H      the address to listen on (default 127.0.0.1: this machine\n"
            "                only; anything else lets other machines use the lab)\n"
            "  --models DIR  the folder whose models are offered (default: the current\n"
            "                one): every attend model file below it, by its path in DIR\n"
            "Open the printed address in a browser; Ctrl-C stops the server.\n",
            DEFAULT_PORT);
    return out == stdout ? 0 : 2;
}

typedef struct serve_options {
    long port;
    const char *host, *models;
} serve_options;

/* 0 parsed, -1 after printing the help, else the exit code (after
 * printing why). */
static int parse(int argc, char **argv, serve_options *o) {
    *o = (serve_options){.port = DEFAULT_PORT, .host = "127.0.0.1", .models = "."};
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return usage(stdout), -1;
        if (!strcmp(arg, "--port")) {
            if (!cli_parse_int(arg, value, 0, 65535, &o->port)) return 2;
        } else if (!strcmp(arg, "--host") || !strcmp(arg, "--models")) {
            if (!value || !*value) {
                fprintf(stderr, "attend serve: %s needs a value\n", arg);
                return 2;
            }
            *(!strcmp(arg, "--host") ? &o->host : &o->models) = value;
        } else {
            fprintf(stderr, "attend serve: unknown argument '%s'\n", arg);
            return usage(stderr);
        }
    }
    return 0;
}

int serve_listen(const char *host, long port, serve_where *where) {
    char service[16];
    snprintf(service, sizeof service, "%ld", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *found = NULL;
    int e = getaddrinfo(host, service, &hints, &found);
    if (e != 0) {
        fprintf(stderr, "attend serve: --host %s: %s\n", host, gai_strerror(e));
        return -1;
    }
    int fd = socket(found->ai_family, found->ai_socktype | SOCK_CLOEXEC, found->ai_protocol);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, found->ai_addr, found->ai_addrlen) != 0 || listen(fd, 64) != 0) {
        int err = errno;
        /* also `attend train --serve PORT`'s: name neither command's option */
        fprintf(stderr, "attend: cannot listen on %s port %ld: %s%s\n", host, port,
                strerror(err), err == EADDRINUSE ? " (another program has it: choose another port)" : "");
        if (fd >= 0) close(fd);
        freeaddrinfo(found);
        return -1;
    }
    where->ipv6 = found->ai_family == AF_INET6;
    freeaddrinfo(found);
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)&addr;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&addr;
    where->port = ntohs(where->ipv6 ? v6->sin6_port : v4->sin_port);
    where->loopback = where->ipv6 ? IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr)
                                  : (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
    return fd;
}

int serve_main(int argc, char **argv) {
    serve_options o;
    int code = parse(argc, argv, &o);
    if (code) return code < 0 ? 0 : code;
    serve_catalogue *c = serve_catalogue_open(o.models);
    if (!c) return 1;
    /* before any thread: every thread inherits the blocked signals */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    serve_where where = {0};
    int fd = serve_listen(o.host, o.port, &where);
    serve_training *t = fd >= 0 ? serve_training_create(c) : NULL;
    serve_http *h = t ? serve_http_start(c, t, fd, &where, SERVE_THREADS) : NULL;
    if (!h) {
        if (fd >= 0) close(fd);
        serve_training_free(t);
        serve_catalogue_free(c);
        return 1;
    }
    int n = serve_catalogue_count(c);
    fprintf(stderr, "attend serve: %d model%s under %s; Ctrl-C stops the server\n", n,
            n == 1 ? "" : "s", o.models);
    printf("attend serve: http://%s%s%s:%ld/\n", where.ipv6 ? "[" : "", o.host, where.ipv6 ? "]" : "",
           where.port);
    fflush(stdout);
    int signal_number = 0;
    sigwait(&stop, &signal_number);
    fprintf(stderr, "attend serve: %s, stopping\n", signal_number == SIGINT ? "interrupted" : "terminated");
    serve_http_stop(h);
    serve_training_free(t); /* a run going is stopped: it saves last.* */
    serve_catalogue_free(c);
    pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
    return 0;
}
