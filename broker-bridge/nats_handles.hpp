#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nats/nats.h>

#include "broker-bridge/result.hpp"

// Owning wrappers for nats.c handles and the few conversions every NATS caller needs.
// nats.c destroy functions accept NULL, so an empty handle is always safe to drop.
namespace bb {

template <auto DestroyFn>
struct CDestroy {
    template <typename T>
    void operator()(T* handle) const noexcept {
        DestroyFn(handle);
    }
};

using NatsOptions = std::unique_ptr<natsOptions, CDestroy<&natsOptions_Destroy>>;
using NatsConnection = std::unique_ptr<natsConnection, CDestroy<&natsConnection_Destroy>>;
using NatsSubscription = std::unique_ptr<natsSubscription, CDestroy<&natsSubscription_Destroy>>;
using NatsMsg = std::unique_ptr<natsMsg, CDestroy<&natsMsg_Destroy>>;
using JsCtx = std::unique_ptr<jsCtx, CDestroy<&jsCtx_Destroy>>;
using JsStreamInfo = std::unique_ptr<jsStreamInfo, CDestroy<&jsStreamInfo_Destroy>>;
using JsConsumerInfo = std::unique_ptr<jsConsumerInfo, CDestroy<&jsConsumerInfo_Destroy>>;
using JsPubAck = std::unique_ptr<jsPubAck, CDestroy<&jsPubAck_Destroy>>;
using JsMsgMetaData = std::unique_ptr<jsMsgMetaData, CDestroy<&jsMsgMetaData_Destroy>>;
using KvStore = std::unique_ptr<kvStore, CDestroy<&kvStore_Destroy>>;
using KvEntry = std::unique_ptr<kvEntry, CDestroy<&kvEntry_Destroy>>;
using KvWatcher = std::unique_ptr<kvWatcher, CDestroy<&kvWatcher_Destroy>>;
using KvKeysList = std::unique_ptr<kvKeysList, CDestroy<&kvKeysList_Destroy>>;
using KvStatus = std::unique_ptr<kvStatus, CDestroy<&kvStatus_Destroy>>;

// natsSubscription_Fetch fills a natsMsgList the caller holds by value; this owns the
// messages (and the array) it points to. Take a message out by setting its slot to NULL.
class NatsMsgList {
public:
    NatsMsgList() = default;
    ~NatsMsgList() { natsMsgList_Destroy(&list_); }
    NatsMsgList(const NatsMsgList&) = delete;
    NatsMsgList& operator=(const NatsMsgList&) = delete;

    natsMsgList* get() { return &list_; }
    natsMsg** begin() { return list_.Msgs; }
    natsMsg** end() { return list_.Msgs + list_.Count; }
    int size() const { return list_.Count; }

private:
    natsMsgList list_{};
};

// Header name and value pairs in the order read or to be written; a name may repeat.
using Headers = std::vector<std::pair<std::string, std::string>>;

// Turns a failed nats.c call into an Error. Call it right after the failing call, on the same
// thread: it reads nats.c's thread-local last error, which the next call overwrites.
Error nats_error(natsStatus status, const jsErrCode* jerr = nullptr);

// Every header of `msg`: in wire order when read from the bytes received (see
// received_headers.hpp), else in nats.c's hash order; the values of one name keep their
// wire order either way. A message without headers gives {}.
Result<Headers> read_headers(natsMsg* msg);
// The same into `out`, whose strings keep their storage for the next message.
Result<void> read_headers_into(natsMsg* msg, Headers& out);

// Whether add_headers can write this pair: a name of visible ASCII without ':', a value
// without control characters but tab, and not empty (see add_headers).
bool writable_header(std::string_view name, std::string_view value);

// Adds each pair with natsMsgHeader_Add, so repeated names keep all their values. Names and
// values are checked first: a CR, LF or other control character would let a value start a
// header (or a protocol line) of its own, so such a pair is refused and nothing is added.
// An empty value is refused too: nats.c 3.4.1 reads it back as the next header line.
Result<void> add_headers(natsMsg* msg, const Headers& headers);

// The first value of `name`, or nullptr: the pointer lives as long as the message.
const char* header_value(natsMsg* msg, const char* name);

}  // namespace bb
