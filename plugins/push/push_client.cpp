#include "push_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <memory>

namespace bb::push {
namespace {

constexpr std::size_t kExcerptBytes = 256;

struct Transfer {
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    PushResponse response;
    ~Transfer() {
        curl_slist_free_all(headers);
        if (easy != nullptr) curl_easy_cleanup(easy);
    }
};

struct MultiDeleter {
    void operator()(CURLM* multi) const noexcept { curl_multi_cleanup(multi); }
};

std::string trim(std::string text) {
    auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
    text.erase(text.begin(), std::find_if_not(text.begin(), text.end(), blank));
    text.erase(std::find_if_not(text.rbegin(), text.rend(), blank).base(), text.end());
    return text;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* response = static_cast<PushResponse*>(user);
    std::string line(data, size * count);
    constexpr std::string_view kName = "retry-after:";
    if (line.size() > kName.size()) {
        std::string name = line.substr(0, kName.size());
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (name == kName) {
            response->retry_after =
                parse_retry_after(trim(line.substr(kName.size())), std::time(nullptr));
        }
    }
    return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* response = static_cast<PushResponse*>(user);
    const size_t room = kExcerptBytes - std::min(kExcerptBytes, response->body_excerpt.size());
    response->body_excerpt.append(data, std::min(room, size * count));
    return size * count;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value,
                                                           int64_t now_unix) {
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); })) {
        if (value.size() > 9) return std::chrono::milliseconds(int64_t{999999999} * 1000);
        return std::chrono::seconds(std::stoll(value));
    }
    const time_t at = curl_getdate(value.c_str(), nullptr);
    if (at < 0) return std::nullopt;
    return std::chrono::seconds(std::max<int64_t>(0, static_cast<int64_t>(at) - now_unix));
}

PushClient::PushClient(PushTimeouts timeouts, bool allow_http)
    : timeouts_(timeouts), allow_http_(allow_http) {}

std::vector<PushResponse> PushClient::send_all(const std::vector<PushRequest>& requests) const {
    std::vector<std::unique_ptr<Transfer>> transfers;
    std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
    for (const PushRequest& r : requests) {
        auto t = std::make_unique<Transfer>();
        t->easy = curl_easy_init();
        for (const std::string& h : r.headers)
            t->headers = curl_slist_append(t->headers, h.c_str());
        // No "Expect: 100-continue": it costs a round trip and some services do not answer it.
        t->headers = curl_slist_append(t->headers, "Expect:");
        CURL* e = t->easy;
        curl_easy_setopt(e, CURLOPT_URL, r.endpoint.c_str());
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, allow_http_ ? "http,https" : "https");
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeouts_.connect_ms));
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeouts_.request_ms));
        // Signals for timeouts do not mix with threads.
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, &t->response);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &t->response);
        curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
        curl_multi_add_handle(multi.get(), e);
        transfers.push_back(std::move(t));
    }
    // Each transfer ends by its own CURLOPT_TIMEOUT_MS at the latest; the deadline only
    // guards against a libcurl that stops making progress.
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(timeouts_.request_ms) + std::chrono::seconds(1);
    int running = 1;
    while (running > 0 && std::chrono::steady_clock::now() < deadline) {
        if (curl_multi_perform(multi.get(), &running) != CURLM_OK) break;
        if (running > 0) curl_multi_poll(multi.get(), nullptr, 0, 200, nullptr);
    }
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi.get(), &queued)) {
        if (m->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &t);
        if (m->data.result == CURLE_OK) {
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &t->response.status);
        } else {
            t->response.error = curl_easy_strerror(m->data.result);
        }
    }
    std::vector<PushResponse> out;
    for (auto& t : transfers) {
        curl_multi_remove_handle(multi.get(), t->easy);
        if (t->response.status == 0 && t->response.error.empty()) {
            t->response.error = "no answer in time";
        }
        out.push_back(std::move(t->response));
    }
    return out;
}

}  // namespace bb::push
