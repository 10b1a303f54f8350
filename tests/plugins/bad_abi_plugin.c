/*
 * A plugin built for another ABI version: the loader must refuse it by its descriptor alone,
 * before calling any entry point. Written in C so the build also proves plugin.h is C.
 */
#include <bb/plugin.h>

static void* create(const bb_host* host, const char* config_yaml, size_t config_len,
                    bb_error* err) {
    (void)host;
    (void)config_yaml;
    (void)config_len;
    (void)err;
    return NULL;
}

static bb_result handle(void* self, const bb_event* event, uint32_t* retry_delay_ms,
                        bb_error* err) {
    (void)self;
    (void)event;
    (void)retry_delay_ms;
    (void)err;
    return BB_RESULT_DONE;
}

static void destroy(void* self) { (void)self; }

static const bb_plugin_descriptor kDescriptor = {
    999u, sizeof(bb_plugin_descriptor), "bad_abi", "1.0.0", create, handle, NULL, destroy};

__attribute__((visibility("default"))) const bb_plugin_descriptor* bb_plugin_describe(void) {
    return &kDescriptor;
}
