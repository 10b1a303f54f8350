// The bench's handler: does nothing with an event but answer, so a run measures the host
// (fetching, decoding the envelope, dispatching to workers, acknowledging) and not a plugin.
//
//   config:
//     fail_attempts: 1   # answer retry on attempts 1..N, done after (default 0: never fail);
//                        # a value of at least the binding's attempts dead-letters every event
#include <bb/plugin.hpp>

#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace bb::bench {
namespace {

class NoopPlugin {
public:
    NoopPlugin(plugin::Host&, const std::string& yaml_config) {
        YAML::Node config = YAML::Load(yaml_config);
        if (config.IsMap() && config["fail_attempts"]) {
            fail_attempts_ = config["fail_attempts"].as<uint32_t>();
        }
    }

    plugin::Outcome handle(const plugin::EventView& ev) {
        if (ev.attempt() <= fail_attempts_)
            return plugin::Outcome::retry("bench: scripted failure");
        return plugin::Outcome::done();
    }

private:
    uint32_t fail_attempts_ = 0;
};

}  // namespace
}  // namespace bb::bench

BB_PLUGIN(bb::bench::NoopPlugin, "bench_noop", "1.0.0")
