#include "handlers/dead_letter_pipeline.hpp"

#include <condition_variable>

#include "broker-bridge/nats_handles.hpp"

namespace bb::handlers {

// What the acknowledgement callback reaches through its closure: the completions by the
// address of the message nats.c hands back (unique while the publish is pending).
struct DeadLetterPipeline::State {
    std::mutex mutex;
    std::condition_variable idle;
    std::unordered_map<const natsMsg*, Done> waiting;
    int running = 0;      // completions being run right now
    bool closed = false;  // the owner is going away: completions are dropped

    // The completion of `msg`, counted as running until finished() (null if none).
    Done take(const natsMsg* msg) {
        std::lock_guard lock(mutex);
        auto it = waiting.find(msg);
        if (it == waiting.end()) return nullptr;
        Done done = std::move(it->second);
        waiting.erase(it);
        if (closed) return nullptr;
        ++running;
        return done;
    }
    void finished() {
        {
            std::lock_guard lock(mutex);
            --running;
        }
        idle.notify_all();
    }
};

DeadLetterPipeline::DeadLetterPipeline(const NatsClient& nats, std::chrono::milliseconds max_wait)
    : max_wait_(max_wait), state_(std::make_shared<State>()) {
    jsOptions opts;
    jsOptions_Init(&opts);
    opts.Wait = max_wait.count();
    opts.PublishAsync.AckHandler = &DeadLetterPipeline::on_ack;
    opts.PublishAsync.AckHandlerClosure = state_.get();
    // Bounded by the bindings' concurrency in practice: each pending publish holds a slot.
    opts.PublishAsync.MaxPending = 65536;
    if (natsConnection_JetStream(&js_, nats.connection(), &opts) != NATS_OK) js_ = nullptr;
}

DeadLetterPipeline::~DeadLetterPipeline() {
    if (!js_) return;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = max_wait_.count();
    bool complete = js_PublishAsyncComplete(js_, &po) == NATS_OK;
    {
        // A completion already taken still runs into the owner: wait for it to return.
        std::unique_lock lock(state_->mutex);
        state_->closed = true;
        complete = state_->idle.wait_for(lock, max_wait_, [&] { return state_->running == 0; }) &&
                   complete;
    }
    jsCtx_Destroy(js_);
    // A callback still pending would read the state after this object is gone: when the
    // wait ran out, the small state block is left to the process rather than freed.
    if (!complete) new std::shared_ptr<State>(state_);
}

void DeadLetterPipeline::publish(const DeadLetterMessage& message, Done done) {
    if (!js_) {
        done(Error{"dead-letter publish: no JetStream context"});
        return;
    }
    natsMsg* raw = nullptr;
    natsStatus s = natsMsg_Create(&raw, message.subject.c_str(), nullptr, message.body.data(),
                                  static_cast<int>(message.body.size()));
    if (s != NATS_OK) {
        done(nats_error(s));
        return;
    }
    NatsMsg msg(raw);
    if (auto added = add_headers(msg.get(), message.headers); !added) {
        done(added.error());
        return;
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = max_wait_.count();
    if (!message.msg_id.empty()) po.MsgId = message.msg_id.c_str();
    {
        // Registered first: the acknowledgement may arrive before js_PublishMsgAsync returns.
        std::lock_guard lock(state_->mutex);
        state_->waiting[raw] = std::move(done);
    }
    natsMsg* sent = msg.release();
    s = js_PublishMsgAsync(js_, &sent, &po);
    if (s == NATS_OK) return;  // nats.c owns the message now; on_ack destroys it
    natsMsg_Destroy(sent);     // still ours when the publish did not start
    if (Done failed = state_->take(raw)) {
        failed(nats_error(s));
        state_->finished();
    }
}

void DeadLetterPipeline::on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae,
                                void* closure) {
    auto* state = static_cast<State*>(closure);
    Done done = state->take(msg);
    Result<void> result;
    if (pa == nullptr) {
        natsStatus s = pae ? pae->Err : NATS_ERR;
        result = Error{std::string("dead-letter publish: ") + natsStatus_GetText(s) +
                       (pae && pae->ErrText ? std::string(": ") + pae->ErrText : "")};
    }
    natsMsg_Destroy(msg);
    if (!done) return;
    done(result);
    state->finished();
}

}  // namespace bb::handlers
