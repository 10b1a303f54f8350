#pragma once

#include <stdexcept>
#include <string>

namespace bb {

// Thrown only while starting up (command line, YAML, plugin load, provisioning). `main`
// prints what() as one error line and exits non-zero. The text names the place: a file with
// line and column, or a YAML path such as bindings[2].backoff.max.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class StartupError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace bb
