#include "unit/edge/token_sources.hpp"

#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <vector>

namespace bb::test {
namespace {

struct PkeyFree {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* ctx) const noexcept { EVP_PKEY_CTX_free(ctx); }
};
struct BioFree {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct JwtFree {
    void operator()(jwt_t* jwt) const noexcept { jwt_free(jwt); }
};

using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<size_t>(size));
}

KeyPair to_pem(EVP_PKEY* key) {
    std::unique_ptr<BIO, BioFree> priv(BIO_new(BIO_s_mem()));
    std::unique_ptr<BIO, BioFree> pub(BIO_new(BIO_s_mem()));
    if (!priv || !pub ||
        PEM_write_bio_PrivateKey(priv.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
        PEM_write_bio_PUBKEY(pub.get(), key) != 1) {
        throw std::runtime_error("cannot write the generated key as PEM");
    }
    return KeyPair{bio_text(priv.get()), bio_text(pub.get())};
}

Pkey keygen(int type, int rsa_bits, int curve_nid) {
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_id(type, nullptr));
    bool ok = ctx && EVP_PKEY_keygen_init(ctx.get()) == 1;
    if (ok && type == EVP_PKEY_RSA) {
        ok = EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), rsa_bits) == 1;
    }
    if (ok && type == EVP_PKEY_EC) {
        ok = EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), curve_nid) == 1;
    }
    EVP_PKEY* key = nullptr;
    if (!ok || EVP_PKEY_keygen(ctx.get(), &key) != 1) {
        throw std::runtime_error("EVP_PKEY_keygen failed");
    }
    return Pkey(key);
}

// Runs argv with stdout and stderr captured; throws unless it exits 0 within `limit`.
std::string run_captured(const std::vector<std::string>& argv, std::chrono::seconds limit) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    std::string output;
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::array<char, 4096> buffer;
    bool closed = false;
    while (!closed && output.size() < (1 << 20) && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        ssize_t n = ::read(fds[0], buffer.data(), buffer.size());
        closed = n <= 0;
        if (n > 0) output.append(buffer.data(), static_cast<size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    if (!closed) {
        ::kill(pid, SIGKILL);  // our own child, by its pid
        ::waitpid(pid, &status, 0);
        throw std::runtime_error(argv[0] + " did not finish in time; output: " + output);
    }
    ::waitpid(pid, &status, 0);  // its output is closed: it is exiting
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error(argv[0] + " failed; output: " + output);
    }
    return output;
}

// Arguments: alg, key file, claims file, kid ("" for none). Prints the token.
constexpr const char* kPyJwtScript = R"(
import json, sys
import jwt
alg, key_file, claims_file, kid = sys.argv[1:5]
with open(key_file) as f:
    key = f.read()
with open(claims_file) as f:
    claims = json.load(f)
print(jwt.encode(claims, key, algorithm=alg, headers={"kid": kid} if kid else None))
)";

}  // namespace

KeyPair generate_rsa(int bits) { return to_pem(keygen(EVP_PKEY_RSA, bits, 0).get()); }

KeyPair generate_ec(int curve_nid) { return to_pem(keygen(EVP_PKEY_EC, 0, curve_nid).get()); }

const KeyPair& rsa_2048() {
    static const KeyPair keys = generate_rsa(2048);
    return keys;
}

const KeyPair& ec_p256() {
    static const KeyPair keys = generate_ec(NID_X9_62_prime256v1);
    return keys;
}

std::string libjwt_token(jwt_alg_t alg, std::string_view key, const nlohmann::json& claims,
                         const std::string& kid) {
    jwt_t* raw = nullptr;
    if (jwt_new(&raw) != 0) throw std::runtime_error("jwt_new failed");
    std::unique_ptr<jwt_t, JwtFree> jwt(raw);
    if (!kid.empty() && jwt_add_header(jwt.get(), "kid", kid.c_str()) != 0) {
        throw std::runtime_error("jwt_add_header failed");
    }
    for (const auto& [name, value] : claims.items()) {
        int rc = value.is_string()
                     ? jwt_add_grant(jwt.get(), name.c_str(), value.get<std::string>().c_str())
                 : value.is_number_integer()
                     ? jwt_add_grant_int(jwt.get(), name.c_str(), value.get<long>())
                     : jwt_add_grants_json(jwt.get(), nlohmann::json{{name, value}}.dump().c_str());
        if (rc != 0) throw std::runtime_error("libjwt refused the claim " + name);
    }
    if (jwt_set_alg(jwt.get(), alg, reinterpret_cast<const unsigned char*>(key.data()),
                    static_cast<int>(key.size())) != 0) {
        throw std::runtime_error("jwt_set_alg failed");
    }
    char* encoded = jwt_encode_str(jwt.get());
    if (encoded == nullptr) throw std::runtime_error("jwt_encode_str failed");
    std::string token(encoded);
    std::free(encoded);  // libjwt 1.10 has no jwt_free_str: the string is malloc'ed
    return token;
}

std::string pyjwt_token(const std::string& alg, const std::string& key,
                        const nlohmann::json& claims, const std::string& kid) {
    TempDir dir;
    auto key_file = dir.write("key", key);
    auto claims_file = dir.write("claims.json", claims.dump());
    std::string out = run_captured(
        {BB_DEBIAN_PYTHON, "-c", kPyJwtScript, alg, key_file.string(), claims_file.string(), kid},
        std::chrono::seconds(60));
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

std::string raw_hs256_token(std::string_view header_json, std::string_view payload_json,
                            std::string_view secret) {
    std::string signed_part = base64url(header_json) + "." + base64url(payload_json);
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac.data(),
         &length);
    return signed_part + "." +
           base64url(std::string_view(reinterpret_cast<const char*>(mac.data()), length));
}

std::string base64url(std::string_view bytes) {
    std::string standard(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(standard.data()),
                            reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()));
    standard.resize(static_cast<size_t>(n));
    while (!standard.empty() && standard.back() == '=') standard.pop_back();
    for (char& c : standard) c = c == '+' ? '-' : c == '/' ? '_' : c;
    return standard;
}

std::string from_base64url(std::string_view text) {
    std::string standard(text);
    for (char& c : standard) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (standard.size() % 4 != 0) standard += '=';
    std::string out(standard.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(standard.data()),
                            static_cast<int>(standard.size()));
    if (n < 0) throw std::runtime_error("not base64url");
    size_t padding = standard.size() - text.size();
    out.resize(static_cast<size_t>(n) - padding);  // EVP_DecodeBlock counts the padding
    return out;
}

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "bb-edge-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::filesystem::path TempDir::write(const std::string& name, std::string_view content) const {
    auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("cannot write " + file.string());
    return file;
}

}  // namespace bb::test
