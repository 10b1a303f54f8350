/*
 * broker-bridge handler plugin ABI.
 *
 * A plugin is a shared library that exports one function, bb_plugin_describe(), returning a
 * descriptor. Only C types cross this boundary. Every pointer states who owns it and for how
 * long. Structs grow only at the end; any change of layout or meaning bumps
 * BB_PLUGIN_ABI_VERSION, and the host refuses a plugin built against another version.
 *
 * Threads: the host calls create/destroy once, on its start-up/shutdown thread. handle() is
 * called from up to `concurrency` worker threads of the binding at once (plus calls that
 * overran their timeout and have not returned yet), so it must be thread-safe. tick() is called
 * from one timer thread, never concurrently with itself. Every host function may be called from any
 * thread, including from inside handle() and tick(), but not after destroy() has returned.
 */
#ifndef BB_PLUGIN_H
#define BB_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BB_PLUGIN_ABI_VERSION 1u

/* The one symbol the loader looks up. */
#define BB_PLUGIN_DESCRIBE_SYMBOL "bb_plugin_describe"

/* What handle() answers. */
typedef enum bb_result {
    BB_RESULT_DONE = 0,  /* handled: the host acknowledges the message */
    BB_RESULT_RETRY = 1, /* failed attempt: retried on the binding's backoff schedule */
    BB_RESULT_REJECT = 2 /* permanent failure: dead-lettered at once, no more attempts */
} bb_result;

typedef enum bb_log_level {
    BB_LOG_TRACE = 0,
    BB_LOG_DEBUG = 1,
    BB_LOG_INFO = 2,
    BB_LOG_WARN = 3,
    BB_LOG_ERROR = 4
} bb_log_level;

/* Status of host calls that can fail. */
typedef enum bb_status {
    BB_OK = 0,
    BB_NOT_FOUND = 1,   /* key-value: no such key (or it was deleted) */
    BB_EXISTS = 2,      /* key-value: create on a key that exists; update with a stale revision */
    BB_FORBIDDEN = 3,   /* publish: subject outside the binding's allowed prefixes */
    BB_INVALID = 4,     /* an argument was malformed (bad subject token, control characters) */
    BB_UNAVAILABLE = 5, /* NATS did not answer in time or is disconnected: worth a retry */
    BB_ERROR = 6        /* anything else; the error text says what */
} bb_status;

/* A borrowed byte string; not NUL-terminated unless said otherwise. */
typedef struct bb_str {
    const char* data;
    size_t len;
} bb_str;

typedef struct bb_header {
    bb_str name;
    bb_str value; /* decoded (percent-decoding of ce- values already applied) */
} bb_header;

/*
 * Error text written by the callee. The caller owns the buffer; bb_error_set() in plugin.hpp
 * (or any code) copies at most sizeof(message) - 1 bytes and NUL-terminates.
 */
typedef struct bb_error {
    char message[512];
} bb_error;

/*
 * One domain event as handed to handle(). Owned by the host; every pointer inside is valid
 * until handle() returns. Attribute strings are the decoded CloudEvents attributes; an absent
 * optional attribute has len == 0.
 */
typedef struct bb_event {
    size_t struct_size;
    bb_str id;
    bb_str type;
    bb_str source;
    bb_str subject; /* CloudEvents subject: the aggregate id */
    bb_str time;    /* RFC 3339 */
    bb_str aggregate_type;
    bb_str correlation_id;
    bb_str causation_id;
    bb_str user_id;
    bb_str data_version;
    bb_str data_content_type; /* application/msgpack or application/json */
    bb_str nats_subject;      /* the subject the message was stored under */
    bb_str data;              /* the body exactly as published */
    bb_str data_json;         /* the data as JSON text, whatever its content type; empty
                                 (data NULL) for a plugin that asks for it on demand (see
                                 BB_PLUGIN_JSON_ON_DEMAND and bb_host.event_data_json) */
    const bb_header* headers; /* every NATS header of the message, as received */
    size_t header_count;
    uint64_t stream_seq; /* sequence in the source stream */
    uint32_t attempt;    /* 1 for the first delivery */
    uint32_t max_attempts;
} bb_event;

/* A follow-up domain event a plugin asks the host to publish. */
typedef struct bb_new_event {
    size_t struct_size;
    bb_str type;           /* required, one subject token */
    bb_str aggregate_type; /* required, one subject token (lower-cased for the subject) */
    bb_str aggregate_id;   /* required: ce-subject */
    bb_str data_json;      /* required: a JSON value, published as MessagePack */
    bb_str key; /* optional: tells apart several follow-ups of one source event (default "") */
} bb_new_event;

/* A byte buffer allocated by the host; release it with bb_host.buffer_free. */
typedef struct bb_buffer {
    char* data;
    size_t len;
} bb_buffer;

/*
 * What the host offers a plugin instance. The table and `ctx` stay valid from create() until
 * destroy() returns. Strings passed in are borrowed for the call only.
 */
typedef struct bb_host {
    size_t struct_size;
    void* ctx; /* pass back as the first argument of every call */

    /* One log line: a lower-case phrase then key=value fields, without a trailing newline. */
    void (*log)(void* ctx, bb_log_level level, const char* line, size_t len);

    /*
     * Metrics. `name` is a snake_case suffix; the host registers
     * broker_bridge_plugin_<name> with the labels binding and plugin (a counter's name gets
     * `_total` appended unless it ends with it). Counters take an increment; gauges a value.
     */
    void (*counter_add)(void* ctx, const char* name, double increment);
    void (*gauge_set)(void* ctx, const char* name, double value);

    /*
     * Publishes a follow-up domain event to the EVENTS stream and waits for its
     * acknowledgement. The host carries the correlation id over from `source`, sets the
     * causation id to source's id, and derives the new id from source's id, the binding and
     * `key`, so a redelivered source event cannot emit the follow-up twice.
     */
    bb_status (*publish_event)(void* ctx, const bb_event* source, const bb_new_event* event,
                               bb_error* err);

    /*
     * Publishes raw bytes to `subject`, which must start with one of the prefixes the
     * binding's config allows (`publish_prefixes`). `headers` may be NULL when count is 0.
     * Waits for the JetStream acknowledgement when the subject belongs to a stream.
     */
    bb_status (*publish)(void* ctx, const char* subject, const bb_header* headers,
                         size_t header_count, const char* data, size_t len, bb_error* err);

    /*
     * Key-value buckets, by the names declared under `buckets:` in the config.
     * kv_get fills `out` (free it with buffer_free) and `revision` (may be NULL).
     * kv_create fails with BB_EXISTS when the key is present; kv_update is compare-and-set
     * against `last_revision` and fails with BB_EXISTS when it is stale.
     */
    bb_status (*kv_get)(void* ctx, const char* bucket, const char* key, bb_buffer* out,
                        uint64_t* revision, bb_error* err);
    bb_status (*kv_put)(void* ctx, const char* bucket, const char* key, const char* data,
                        size_t len, uint64_t* revision, bb_error* err);
    bb_status (*kv_create)(void* ctx, const char* bucket, const char* key, const char* data,
                           size_t len, uint64_t* revision, bb_error* err);
    bb_status (*kv_update)(void* ctx, const char* bucket, const char* key, const char* data,
                           size_t len, uint64_t last_revision, uint64_t* revision, bb_error* err);
    bb_status (*kv_delete)(void* ctx, const char* bucket, const char* key, bb_error* err);
    void (*buffer_free)(void* ctx, bb_buffer* buffer);

    /*
     * Asks for tick() every `interval_ms` milliseconds (0 stops it). May be called from
     * create(); the first tick comes one interval after the binding starts.
     */
    void (*set_tick)(void* ctx, uint32_t interval_ms);

    /*
     * The folder of the config file, absolute, NUL-terminated: relative paths in a plugin's
     * config resolve against it, as they do everywhere else in the config.
     */
    const char* config_dir;

    /* The binding's name, NUL-terminated, for the plugin's own logs and keys. */
    const char* binding_name;

    /*
     * Says that `event` (the one handle() is working on, called from inside that handle())
     * is still being worked on: JetStream restarts the message's ack wait (an in-progress
     * acknowledgement, +WPI), and the host pushes its own timeout take-over of this call
     * back to one binding timeout from now. A handler that keeps calling it is neither
     * redelivered nor taken over however long it runs; one that stops is, a timeout after
     * its last call. Fails with BB_INVALID for an event that is not being handled (or whose
     * call already timed out) and BB_UNAVAILABLE when the acknowledgement could not be sent.
     * Added after the first release of ABI 1: check struct_size before calling it.
     */
    bb_status (*in_progress)(void* ctx, const bb_event* event, bb_error* err);

    /*
     * Added after ABI version 1 (check struct_size before use). Like publish, for a subject
     * inside a stream, and fills `stream_seq` with the sequence the stream stored the message
     * under (the first one's, when a Nats-Msg-Id header repeats inside the duplicate
     * window). A Nats-Expected-Last-Subject-Sequence header that does not hold answers
     * BB_EXISTS.
     */
    bb_status (*publish_seq)(void* ctx, const char* subject, const bb_header* headers,
                             size_t header_count, const char* data, size_t len,
                             uint64_t* stream_seq, bb_error* err);

    /*
     * Added after ABI version 1 (check struct_size before use). The data of `event` (the one
     * handle() is working on, called from inside that handle(), on its thread) as JSON text,
     * converted on the first call: what bb_event.data_json holds for a plugin that does not
     * set BB_PLUGIN_JSON_ON_DEMAND. `out` borrows host memory until handle() returns.
     * BB_INVALID when the data cannot be JSON (a bin or ext value, a non-string map key,
     * invalid UTF-8, a repeated key, a NaN) or `event` is not being handled on this thread;
     * after a BB_INVALID for the data the host dead-letters the event as invalid, whatever
     * handle() answers, as it would have before the call for a plugin without the flag.
     */
    bb_status (*event_data_json)(void* ctx, const bb_event* event, bb_str* out, bb_error* err);
} bb_host;

/*
 * Descriptor flags. BB_PLUGIN_JSON_ON_DEMAND: the plugin reads the data as JSON only
 * through bb_host.event_data_json, so the host converts it only for the events the plugin
 * asks about and leaves bb_event.data_json empty. (Converting every event's MessagePack to
 * JSON text is the largest cost of a plugin that never reads it.)
 */
#define BB_PLUGIN_JSON_ON_DEMAND 1u

/* Returned by bb_plugin_describe(); static storage owned by the plugin. */
typedef struct bb_plugin_descriptor {
    uint32_t abi_version; /* BB_PLUGIN_ABI_VERSION the plugin was built against */
    size_t struct_size;   /* sizeof(bb_plugin_descriptor) as the plugin saw it */
    const char* name;     /* NUL-terminated, static */
    const char* version;  /* NUL-terminated, static */

    /*
     * Makes one instance for one binding. `config_yaml` is the binding's `config:` subtree as
     * YAML text (borrowed for the call). On failure returns NULL and fills `err`; the host
     * then refuses to start and prints the message with the binding's name.
     */
    void* (*create)(const bb_host* host, const char* config_yaml, size_t config_len, bb_error* err);

    /*
     * Handles one event. `retry_delay_ms` is in/out: it holds the host's next backoff delay,
     * and a plugin answering BB_RESULT_RETRY may raise it (for a Retry-After). On RETRY and
     * REJECT the plugin should say why in `err`.
     */
    bb_result (*handle)(void* self, const bb_event* event, uint32_t* retry_delay_ms, bb_error* err);

    /* Optional (may be NULL): called on the timer asked for with set_tick. */
    void (*tick)(void* self);

    /* Releases the instance; no handle() or tick() runs during or after it. */
    void (*destroy)(void* self);

    /*
     * Optional (NULL, or beyond an older plugin's struct_size: not offered). Checks a
     * binding's `config_yaml` as create() would read it, with no side effect: no file made,
     * no connection, no host call, so `broker-bridge check-config` can run it anywhere.
     * Returns BB_OK, or BB_INVALID with the reason (naming the key) in `err`. Any thread.
     */
    bb_status (*check_config)(const char* config_yaml, size_t config_len, bb_error* err);

    /* Added after ABI version 1 (a shorter struct means 0): BB_PLUGIN_* flags. */
    uint32_t flags;
} bb_plugin_descriptor;

typedef const bb_plugin_descriptor* (*bb_plugin_describe_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* BB_PLUGIN_H */
