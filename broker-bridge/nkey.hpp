#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "broker-bridge/result.hpp"

// NATS nkeys (base32 text with a type prefix and a CRC16), as far as a client needs them.
// nats.c signs a nonce with a seed (nats_Sign) but wants the public key next to it
// (natsOptions_SetNKey) and has no public call that derives one, while our config names
// only the seed file.
namespace bb {

// The user public key ("U...") of a user seed ("SU..."). Errors say what is wrong with the
// seed without repeating it: a seed is a secret.
Result<std::string> nkey_public_from_seed(std::string_view seed);

// Reads the seed from a file that holds it on a line of its own (as `nk -gen user` writes
// it, or inside a .creds file's seed block).
Result<std::string> read_nkey_seed_file(const std::filesystem::path& file);

}  // namespace bb
