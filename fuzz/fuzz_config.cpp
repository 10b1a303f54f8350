// The YAML config loader: a whole config file per input, read as `check-config --offline`
// reads it (no key files, unset ${VAR} kept), then as a bare document under tight limits.
// A config may be refused only with a ConfigError (file:line:col and the key path); any
// other exception escaping the loader is a finding.
#include <cstddef>
#include <cstdint>
#include <string>

#include "broker-bridge/config.hpp"
#include "broker-bridge/config_node.hpp"
#include "broker-bridge/errors.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

// Reads every scalar the way config readers do, so ${VAR} substitution runs on each.
void walk(const bb::config::Node& node, size_t depth) {
    if (depth > 64) return;
    if (node.is_map()) {
        for (const auto& [key, child] : node.entries()) walk(child, depth + 1);
    } else if (node.is_sequence()) {
        for (const auto& child : node.items()) walk(child, depth + 1);
    } else if (node.is_scalar()) {
        (void)node.as_string();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        (void)bb::parse_config(text, "/nonexistent/fuzz.yaml", true);
    } catch (const bb::ConfigError& e) {
        BB_FUZZ_CHECK(std::string(e.what()).rfind("/nonexistent/fuzz.yaml", 0) == 0);
    }
    try {
        bb::config::LoadLimits limits{64 * 1024, 2000, 16};
        auto root = bb::config::load_document(text, "fuzz.yaml", limits, true);
        walk(root, 0);
        (void)root.to_yaml();
    } catch (const bb::ConfigError&) {
    }
    return 0;
}
