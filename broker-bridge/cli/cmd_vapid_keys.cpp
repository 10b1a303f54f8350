// `broker-bridge vapid-keys`: a new VAPID key pair for the push plugin (RFC 8292).
#include <cstdio>

#include "broker-bridge/cli/commands.hpp"
#include "broker-bridge/webpush/vapid.hpp"

namespace bb::cli {

int vapid_keys(const VapidKeysOptions& o) {
    auto pair = webpush::generate_vapid_key_pair();
    if (!pair) {
        std::fprintf(stderr, "vapid-keys: %s\n", pair.error().what.c_str());
        return 1;
    }
    // The two lines in the form browsers and web-push libraries use: the public key is the
    // page's applicationServerKey, the private key goes into the push plugin's config.
    std::printf("public_key=%s\n", pair->public_key.c_str());
    std::printf("private_key=%s\n", pair->private_key.c_str());
    if (o.pem) std::printf("%s", pair->private_pem.c_str());
    return 0;
}

}  // namespace bb::cli
