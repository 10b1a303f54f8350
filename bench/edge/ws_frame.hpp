// The few pieces of RFC 6455 the load generator and the floor server need: frame headers
// (masked from clients, unmasked from servers) and the handshake's accept key.
// Hand-written rather than a libwebsockets client: 10,000 client connections must cost
// almost nothing each (a socket and two small buffers), and every frame is read by one of
// a few threads of ours that also split and time the messages it carries.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace bench::ws {

enum Opcode : uint8_t {
    kContinuation = 0,
    kText = 1,
    kBinary = 2,
    kClose = 8,
    kPing = 9,
    kPong = 10
};

struct Frame {
    bool fin = false;
    bool compressed = false;  // RSV1: permessage-deflate
    uint8_t opcode = 0;
    std::string_view payload;  // unmasked in place
};

// Parses one frame at the start of `buf`; returns the bytes it spans, 0 when incomplete,
// -1 when the header is not one we accept (over 64 MiB).
inline int64_t parse_frame(char* buf, size_t len, Frame& out) {
    if (len < 2) return 0;
    auto* b = reinterpret_cast<unsigned char*>(buf);
    out.fin = (b[0] & 0x80) != 0;
    out.compressed = (b[0] & 0x40) != 0;
    out.opcode = b[0] & 0x0f;
    bool masked = (b[1] & 0x80) != 0;
    uint64_t n = b[1] & 0x7f;
    size_t at = 2;
    if (n == 126) {
        if (len < 4) return 0;
        n = (uint64_t(b[2]) << 8) | b[3];
        at = 4;
    } else if (n == 127) {
        if (len < 10) return 0;
        n = 0;
        for (int i = 0; i < 8; ++i) n = (n << 8) | b[2 + i];
        at = 10;
    }
    if (n > (64u << 20)) return -1;
    size_t mask_at = at;
    if (masked) at += 4;
    if (len < at + n) return 0;
    if (masked) {
        for (uint64_t i = 0; i < n; ++i) b[at + i] ^= b[mask_at + (i & 3)];
    }
    out.payload = std::string_view(buf + at, n);
    return static_cast<int64_t>(at + n);
}

// Appends a frame header for `n` payload bytes; with `mask`, the 4 mask bytes too (the
// payload must then be appended through mask_into).
inline void append_header(std::string& out, uint8_t opcode, uint64_t n, const uint8_t* mask) {
    out.push_back(static_cast<char>(0x80 | opcode));
    uint8_t m = mask ? 0x80 : 0;
    if (n < 126) {
        out.push_back(static_cast<char>(m | n));
    } else if (n < 65536) {
        out.push_back(static_cast<char>(m | 126));
        out.push_back(static_cast<char>(n >> 8));
        out.push_back(static_cast<char>(n & 0xff));
    } else {
        out.push_back(static_cast<char>(m | 127));
        for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    }
    if (mask) out.append(reinterpret_cast<const char*>(mask), 4);
}

// A client frame: masked, as RFC 6455 requires (the mask need not be unpredictable here).
inline void append_client_frame(std::string& out, uint8_t opcode, std::string_view payload) {
    static constexpr uint8_t kMask[4] = {0x3a, 0x5c, 0x71, 0x0e};
    append_header(out, opcode, payload.size(), kMask);
    size_t at = out.size();
    out.append(payload);
    for (size_t i = 0; i < payload.size(); ++i) out[at + i] ^= static_cast<char>(kMask[i & 3]);
}

inline void append_server_frame(std::string& out, uint8_t opcode, std::string_view payload) {
    append_header(out, opcode, payload.size(), nullptr);
    out.append(payload);
}

// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
inline std::string accept_key(std::string_view key) {
    std::string text(key);
    text += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(text.data(), text.size(), digest, &n, EVP_sha1(), nullptr);
    unsigned char b64[64];
    int len = EVP_EncodeBlock(b64, digest, static_cast<int>(n));
    return std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(len));
}

}  // namespace bench::ws
