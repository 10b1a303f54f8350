// RFC 8291 message encryption against the RFC's own worked example (Appendix A), and the
// checks on a subscription's keys.
#include <boost/test/unit_test.hpp>

#include <string>

#include "broker-bridge/webpush/base64url.hpp"
#include "broker-bridge/webpush/ece.hpp"

using namespace bb::webpush;

namespace {

// RFC 8291 Appendix A, every value as the RFC prints it (base64url).
constexpr char kPlaintext[] = "When I grow up, I want to be a watermelon";
constexpr char kSenderPrivate[] = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
constexpr char kSenderPublic[] =
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
constexpr char kReceiverPublic[] =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
constexpr char kAuthSecret[] = "BTBZMqHH6r4Tts7J_aSIgg";
constexpr char kSalt[] = "DGv6ra1nlYgDCS1FRnbzlw";
constexpr char kBody[] =
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6"
    "TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy"
    "4a-fN";

std::string decoded(const char* text) {
    auto bytes = base64url_decode(text);
    BOOST_TEST_REQUIRE(bytes.has_value(), text);
    return *bytes;
}

UserAgentKeys receiver_keys() {
    auto keys = read_user_agent_keys(kReceiverPublic, kAuthSecret);
    BOOST_TEST_REQUIRE(keys.ok(), (keys.ok() ? "" : keys.error().what));
    return std::move(*keys);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(message_encryption)

BOOST_AUTO_TEST_CASE(the_rfc_8291_example_encrypts_to_the_rfc_body_byte_for_byte) {
    auto sender = p256_from_private(decoded(kSenderPrivate));
    BOOST_TEST_REQUIRE(sender.ok());
    BOOST_TEST(base64url_encode(p256_public_bytes(sender->get())) == kSenderPublic);

    auto body = encrypt_with(kPlaintext, receiver_keys(), sender->get(), decoded(kSalt));
    BOOST_TEST_REQUIRE(body.ok(), (body.ok() ? "" : body.error().what));
    BOOST_TEST(base64url_encode(*body) == kBody);
}

BOOST_AUTO_TEST_CASE(a_fresh_encryption_uses_a_new_salt_and_sender_key_each_time) {
    const UserAgentKeys keys = receiver_keys();
    auto first = encrypt(kPlaintext, keys);
    auto second = encrypt(kPlaintext, keys);
    BOOST_TEST_REQUIRE(first.ok());
    BOOST_TEST_REQUIRE(second.ok());
    BOOST_TEST(first->size() == kHeaderBytes + sizeof kPlaintext - 1 + kRecordOverheadBytes);
    BOOST_TEST(first->substr(0, kSaltBytes) != second->substr(0, kSaltBytes));
    BOOST_TEST(first->substr(21, 65) != second->substr(21, 65));
}

BOOST_AUTO_TEST_CASE(the_largest_payload_fills_exactly_4096_bytes_and_one_more_is_refused) {
    const UserAgentKeys keys = receiver_keys();
    auto largest = encrypt(std::string(kMaxPlaintextBytes, 'x'), keys);
    BOOST_TEST_REQUIRE(largest.ok());
    BOOST_TEST(largest->size() == 4096u);

    auto over = encrypt(std::string(kMaxPlaintextBytes + 1, 'x'), keys);
    BOOST_TEST_REQUIRE(!over.ok());
    BOOST_TEST(over.error().what.find("over the 4096-byte Web Push limit") != std::string::npos,
               over.error().what);
}

BOOST_AUTO_TEST_CASE(keys_that_are_not_a_subscription_s_keys_are_refused_by_name) {
    auto off_curve = std::string(kReceiverPublic);
    off_curve[10] = off_curve[10] == 'A' ? 'B' : 'A';
    auto bad_point = read_user_agent_keys(off_curve, kAuthSecret);
    BOOST_TEST_REQUIRE(!bad_point.ok());
    BOOST_TEST(bad_point.error().what.find("p256dh") == 0u, bad_point.error().what);

    auto short_auth = read_user_agent_keys(kReceiverPublic, "BTBZMqHH6r4Tts7J");
    BOOST_TEST_REQUIRE(!short_auth.ok());
    BOOST_TEST(short_auth.error().what.find("auth is 12 bytes") == 0u, short_auth.error().what);

    auto not_text = read_user_agent_keys("BCVx+r7N/eNg", kAuthSecret);
    BOOST_TEST_REQUIRE(!not_text.ok());
    BOOST_TEST(not_text.error().what == "p256dh is not base64url text");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(base64url)

BOOST_AUTO_TEST_CASE(round_trips_every_length_and_refuses_the_standard_alphabet) {
    std::string bytes;
    for (int i = 0; i < 70; ++i) {
        auto back = base64url_decode(base64url_encode(bytes));
        BOOST_TEST_REQUIRE(back.has_value());
        BOOST_TEST(*back == bytes);
        bytes += static_cast<char>(i * 37 + 250);
    }
    BOOST_TEST(base64url_encode("\xfb\xff") == "-_8");
    BOOST_TEST(base64url_decode("-_8=").value() == "\xfb\xff");
    BOOST_TEST(!base64url_decode("+/8").has_value());
    BOOST_TEST(!base64url_decode("ab cd").has_value());
    BOOST_TEST(!base64url_decode("abcde").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
