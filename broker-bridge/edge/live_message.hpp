#pragma once

#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "broker-bridge/edge/protocol.hpp"
#include "broker-bridge/result.hpp"

// One realtime message of stream RT, read once (from the live republished copy or from the
// stream during recovery) and shared by every connection that receives it. Its wire form is
// built on first use, once per channel name and format, and then shared too.
namespace bb::edge {

class LiveMessage {
public:
    // `subject` is the message's subject in RT (rt.…), `seq` its stream sequence.
    LiveMessage(std::string subject, uint64_t seq, std::string epoch, nlohmann::json data,
                std::string author, std::string connection_id);

    // From a republished copy (headers Nats-Subject and Nats-Sequence) or a direct get reply
    // (the same headers). The body is JSON, or MessagePack when a content type says so.
    static Result<std::shared_ptr<const LiveMessage>> from_nats(natsMsg* msg, std::string epoch);

    const std::string& subject() const { return subject_; }
    uint64_t seq() const { return seq_; }
    const std::string& epoch() const { return epoch_; }
    const std::string& author() const { return author_; }             // ce-userid
    const std::string& connection_id() const { return connection_; }  // Bridge-Connection-Id
    size_t size_hint() const { return size_hint_; }

    // {"op":"message","channel":…,"seq":N,"epoch":"…","data":…}, thread-safe.
    Encoded encoded(const std::string& channel, WireFormat format) const;

private:
    struct Cached {
        std::string channel;
        Encoded json;
        Encoded msgpack;
    };

    std::string subject_;
    uint64_t seq_;
    std::string epoch_;
    nlohmann::json data_;
    std::string author_;
    std::string connection_;
    size_t size_hint_ = 0;

    mutable std::mutex mu_;
    mutable std::vector<Cached> cache_;
};

using LivePtr = std::shared_ptr<const LiveMessage>;

}  // namespace bb::edge
