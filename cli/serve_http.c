/*
 * serve_http.c - the lab's HTTP side, on GNU libmicrohttpd (docs/lab.md
 * says why that library): routes, methods, limits and bodies; the answers
 * come from serve_api.c and the embedded page (serve_assets).
 *
 * Routes are matched exactly against a fixed table, on the path as it
 * came (its %-escapes not decoded): no request ever opens a file, so
 * "/../x", "/%2e%2e/x", "/%00" and "/a%2fb" are simply paths that are not
 * in the table (a 404). An API POST needs "Content-Type: application/json" (415 else),
 * which a browser cannot send to another origin without a preflight the
 * server never grants: a web page elsewhere cannot drive the lab. Bound
 * to a loopback address, the server answers only requests whose Host
 * names this machine (403 else), which defeats DNS rebinding.
 *
 * Limits: libmicrohttpd holds a connection's request line and headers in
 * a memory pool of SERVE_POOL_BYTES and answers a request whose headers do
 * not fit with 431; it answers a malformed request line with 400 (or,
 * in Debian 12's 0.9.75, closes the connection without an answer when
 * the line is one word with no space), and an HTTP/1.1 request without a
 * Host header with 400. A body
 * announced longer than SERVE_MAX_BODY_BYTES is answered 413 at once
 * (the rest is not read and the connection is closed); a chunked body that
 * grows past it is discarded and answered 413 at its end, or the
 * connection is closed if it goes on past SERVE_MAX_DISCARD_BYTES. A
 * connection idle for SERVE_TIMEOUT_SECONDS is closed; at most
 * SERVE_MAX_CONNECTIONS are open at once.
 */
#define _POSIX_C_SOURCE 200809L
#include "serve.h"

#include <microhttpd.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    SERVE_POOL_BYTES = 32 * 1024,
    SERVE_MAX_CONNECTIONS = 256,
    SERVE_TIMEOUT_SECONDS = 30,
    SERVE_MAX_DISCARD_BYTES = 1 << 20,
};

struct serve_http {
    struct MHD_Daemon *daemon;
    serve_catalogue *catalogue;   /* NULL: a run of attend train --serve only */
    serve_training *training;
    long port;      /* for the Host check                          */
    int loopback;   /* bound to this machine only: check the Host  */
};

/* An API POST being received. */
typedef enum route {
    ROUTE_TRANSLATE, ROUTE_COMPARE, ROUTE_EXPLAIN, ROUTE_CLASSIFY, ROUTE_LM, /* need models */
    ROUTE_TRAINING_START, ROUTE_TRAINING_STOP
} route;

static const char *const post_routes[] = {"/api/translate", "/api/compare", "/api/explain",
                                          "/api/classify", "/api/lm", "/api/training/start",
                                          "/api/training/stop"};
enum { POST_ROUTES = sizeof post_routes / sizeof post_routes[0] };

/* The POST route of url, or -1. */
static int post_route(const char *url) {
    for (int i = 0; i < POST_ROUTES; i++)
        if (!strcmp(url, post_routes[i])) return i;
    return -1;
}
typedef struct upload {
    route to;
    char *body;
    size_t len, discarded;
    int too_big;
} upload;

/* ------------------------------------------------------------ answering */

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const void *data,
                              size_t size, enum MHD_ResponseMemoryMode mode,
                              const char *content_type, const char *allow) {
    struct MHD_Response *r = MHD_create_response_from_buffer(size, (void *)data, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE) free((void *)data);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; style-src 'self'; img-src 'self' data:; "
                            "frame-ancestors 'none'");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer_reply(struct MHD_Connection *conn, serve_reply reply,
                                    const char *allow) {
    static const char out_of_memory[] = "{\"error\":\"out of memory\"}";
    if (!reply.json)
        return answer(conn, 500, out_of_memory, sizeof out_of_memory - 1, MHD_RESPMEM_PERSISTENT,
                      "application/json", NULL);
    return answer(conn, reply.status, reply.json, strlen(reply.json), MHD_RESPMEM_MUST_FREE,
                  "application/json", allow);
}

/* -------------------------------------------------------------- routing */

static const serve_asset *find_asset(const char *url) {
    for (int i = 0; i < serve_asset_count; i++)
        if (!strcmp(url, serve_assets[i].path)) return &serve_assets[i];
    return NULL;
}

static int is_get(const char *method) {
    return !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

/* On a loopback address, the Host a browser sends must name this machine
 * (127.0.0.1, localhost or [::1], with the port): a page elsewhere that
 * points its own name at 127.0.0.1 (DNS rebinding) is refused. */
static int host_is_local(const serve_http *h, const char *host) {
    static const char *const names[] = {"127.0.0.1", "localhost", "[::1]"};
    if (!h->loopback) return 1;
    if (!host) return 0;
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(names[i]);
        if (strncasecmp(host, names[i], n)) continue;
        if (host[n] == 0 && h->port == 80) return 1;
        if (host[n] == ':' && strtol(host + n + 1, NULL, 10) == h->port &&
            strspn(host + n + 1, "0123456789") == strlen(host + n + 1))
            return 1;
    }
    return 0;
}

/* A request's first call (its headers are in): answer a GET, a wrong
 * method or an unknown path now; start an upload for an API POST. */
static enum MHD_Result on_headers(serve_http *h, struct MHD_Connection *conn, const char *url,
                                  const char *method, void **state) {
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    if (!host_is_local(h, host))
        return answer_reply(conn, serve_api_error(403, "the Host '%.100s' is not this machine; "
                                                  "open http://127.0.0.1:%ld/", host ? host : "",
                                                  h->port), NULL);
    const serve_asset *asset = find_asset(url);
    int get_api = !strcmp(url, "/api/models") || !strcmp(url, "/api/colours") ||
                  !strcmp(url, "/api/training");
    int to = post_route(url), post_api = to >= 0;
    if ((asset || get_api) && !is_get(method))
        return answer_reply(conn, serve_api_error(405, "%s takes GET", url), "GET, HEAD");
    if (asset)
        return answer(conn, 200, asset->data, asset->size, MHD_RESPMEM_PERSISTENT,
                      asset->content_type, NULL);
    if (!strcmp(url, "/api/training"))
        return answer_reply(conn, serve_api_training(h->training, MHD_lookup_connection_value(
                                                         conn, MHD_GET_ARGUMENT_KIND, "since")),
                            NULL);
    if (get_api)
        return answer_reply(conn, !strcmp(url, "/api/models") ? serve_api_models(h->catalogue)
                                                              : serve_api_colours(),
                            NULL);
    if (!post_api || (!h->catalogue && to <= ROUTE_LM))
        return answer_reply(conn, serve_api_error(404, "no such page or API"), NULL);
    if (strcmp(method, MHD_HTTP_METHOD_POST))
        return answer_reply(conn, serve_api_error(405, "%s takes POST", url), "POST");
    const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (!type || strncasecmp(type, "application/json", 16) || (type[16] && type[16] != ';'))
        return answer_reply(conn, serve_api_error(415, "%s takes Content-Type: application/json",
                                                  url), NULL);
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (length && strtoull(length, NULL, 10) > SERVE_MAX_BODY_BYTES)
        return answer_reply(conn, serve_api_error(413, "the body is over %d bytes",
                                                  SERVE_MAX_BODY_BYTES), NULL);
    upload *u = calloc(1, sizeof *u);
    if (!u) return answer_reply(conn, serve_api_error(500, "out of memory"), NULL);
    u->to = (route)to;
    *state = u;
    return MHD_YES;
}

/* A part of the body: kept up to the limit, discarded past it. */
static enum MHD_Result on_body(upload *u, const char *data, size_t *size) {
    size_t n = *size;
    *size = 0;
    if (!u->too_big && u->len + n <= SERVE_MAX_BODY_BYTES) {
        char *grown = realloc(u->body, u->len + n + 1);
        if (!grown) return MHD_NO;
        memcpy(grown + u->len, data, n);
        u->body = grown, u->len += n;
        return MHD_YES;
    }
    u->too_big = 1;
    u->discarded += n;
    return u->discarded > SERVE_MAX_DISCARD_BYTES ? MHD_NO : MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **state) {
    (void)version;
    serve_http *h = cls;
    upload *u = *state;
    if (!u) return on_headers(h, conn, url, method, state);
    if (*upload_data_size) return on_body(u, upload_data, upload_data_size);
    if (u->too_big)
        return answer_reply(conn, serve_api_error(413, "the body is over %d bytes",
                                                  SERVE_MAX_BODY_BYTES), NULL);
    const char *body = u->body ? u->body : "";
    serve_reply reply;
    switch (u->to) {
    case ROUTE_TRANSLATE: reply = serve_api_translate(h->catalogue, body, u->len); break;
    case ROUTE_COMPARE: reply = serve_api_compare(h->catalogue, body, u->len); break;
    case ROUTE_EXPLAIN: reply = serve_api_explain(h->catalogue, body, u->len); break;
    case ROUTE_CLASSIFY: reply = serve_api_classify(h->catalogue, body, u->len); break;
    case ROUTE_LM: reply = serve_api_lm(h->catalogue, body, u->len); break;
    case ROUTE_TRAINING_START: reply = serve_api_training_start(h->training, body, u->len); break;
    default: reply = serve_api_training_stop(h->training); break; /* the body is not read */
    }
    return answer_reply(conn, reply, NULL);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
                         enum MHD_RequestTerminationCode why) {
    (void)cls, (void)conn, (void)why;
    upload *u = *state;
    if (u) free(u->body), free(u);
    *state = NULL;
}

/* Paths are left as they came: no route holds a %-escape, so an escaped
 * path ("/%2e%2e/", "/%00", "/a%2fb") is never taken for another. */
static size_t keep_escapes(void *cls, struct MHD_Connection *conn, char *s) {
    (void)cls, (void)conn;
    return strlen(s);
}

static void on_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    fprintf(stderr, "attend serve: ");
    vfprintf(stderr, fmt, ap);
}

serve_http *serve_http_start(serve_catalogue *c, serve_training *t, int fd,
                             const serve_where *where, int threads) {
    serve_http *h = calloc(1, sizeof *h);
    if (!h) return fprintf(stderr, "attend serve: out of memory\n"), NULL;
    h->catalogue = c;
    h->training = t;
    h->port = where->port;
    h->loopback = where->loopback;
    int ipv6 = where->ipv6;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                     (ipv6 ? MHD_USE_IPv6 : 0);
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, on_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)SERVE_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)SERVE_TIMEOUT_SECONDS, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)SERVE_POOL_BYTES, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL, MHD_OPTION_STRICT_FOR_CLIENT, 1,
        MHD_OPTION_END);
    if (!h->daemon) {
        fprintf(stderr, "attend serve: the HTTP server (libmicrohttpd) did not start\n");
        free(h);
        return NULL;
    }
    return h;
}

void serve_http_stop(serve_http *h) {
    if (!h) return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
