#pragma once

#include <bb/plugin.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

// The presence plugin's state in its key-value bucket (README.md has the layout), and the
// compare-and-set loop every change goes through: read, change, write against the revision
// read, and start again when another handler call or replica wrote in between.
namespace bb::presence {

using nlohmann::json;

// A bucket key token for an id from outside: kept when it is [A-Za-z0-9_-]+, else hex
// with an "x" in front (KV keys allow few characters; two ids never share a token).
std::string key_token(std::string_view id);

// Non-empty, no '.', '*', '>', white space or control characters: safe inside a subject.
bool is_subject_token(std::string_view id);

// online while any connection is online, away when all are away, offline when none is left.
// `conns` maps connection ids to {"status": ...}.
std::string resolve_status(const json& conns);

int64_t now_ms();
std::string now_text();  // RFC 3339, milliseconds, UTC

struct Versioned {
    json value = json::object();
    uint64_t revision = 0;  // 0: the key does not exist
};

class Store {
public:
    Store(const plugin::Host& host, std::string bucket, int max_attempts)
        : host_(host), bucket_(std::move(bucket)), max_attempts_(max_attempts) {}

    // Throws std::runtime_error when the bucket cannot be read.
    Versioned read(const std::string& key) const;

    // Runs `change` on the current value (an empty object when absent) and writes the result
    // with compare-and-set, again from a fresh read whenever the write lost a race. `change`
    // answers false to leave the key as it is. Answers the value and revision now stored.
    // Throws when the bucket fails or the race is lost max_attempts times.
    Versioned update(const std::string& key, const std::function<bool(json&)>& change) const;

    // One compare-and-set write; false when `revision` is stale.
    bool write(const std::string& key, const json& value, uint64_t revision,
               uint64_t* written = nullptr) const;

    int max_attempts() const { return max_attempts_; }

private:
    const plugin::Host& host_;
    std::string bucket_;
    int max_attempts_;
};

}  // namespace bb::presence
