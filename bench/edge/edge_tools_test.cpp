// The load generator's own pieces that its figures rest on: finding every message in a
// frame whatever wraps it, across frame boundaries; WebSocket framing; percentiles.
#define BOOST_TEST_MODULE bench_edge_tools
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "bench/edge/latency_histogram.hpp"
#include "bench/edge/seq_scan.hpp"
#include "bench/edge/ws_frame.hpp"

namespace {

std::vector<uint64_t> seqs_in(std::string_view text) {
    std::vector<uint64_t> out;
    bench::scan_seq_ts(text, [&](bench::SeqTs m) { out.push_back(m.seq); });
    return out;
}

// Scans `text` cut into two frames at `cut`, carrying over what the scanner asks for.
std::vector<uint64_t> seqs_split_at(const std::string& text, size_t cut) {
    std::vector<uint64_t> out;
    auto on = [&](bench::SeqTs m) { out.push_back(m.seq); };
    std::string first = text.substr(0, cut);
    size_t keep = bench::scan_seq_ts(first, on);
    std::string second = first.substr(first.size() - keep) + text.substr(cut);
    bench::scan_seq_ts(second, on);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_message_of_an_edge_frame_is_found_and_the_edge_seq_is_not) {
    std::string frame =
        R"({"channel":"bench:all","data":{"pad":"xx","seq":7,"ts":100},"op":"message","seq":41})"
        "\n"
        R"({"channel":"bench:all","data":{"pad":"xx","seq":8,"ts":200},"op":"message","seq":42})";
    BOOST_TEST(seqs_in(frame) == (std::vector<uint64_t>{7, 8}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(every_message_of_several_nats_msg_in_one_frame_is_found) {
    std::string frame =
        "MSG bench.all 1 30\r\n{\"seq\":1,\"ts\":5,\"pad\":\"x\"}\r\n"
        "MSG bench.all 1 30\r\n{\"seq\":2,\"ts\":6,\"pad\":\"x\"}\r\nPING\r\n";
    BOOST_TEST(seqs_in(frame) == (std::vector<uint64_t>{1, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_message_cut_anywhere_by_a_frame_end_is_found_exactly_once) {
    std::string text = R"({"seq":123,"ts":456789,"pad":"ab"}{"seq":124 , "ts": 456790})";
    for (size_t cut = 0; cut <= text.size(); ++cut) {
        BOOST_TEST(seqs_split_at(text, cut) == (std::vector<uint64_t>{123, 124}), "cut at " << cut);
    }
}

BOOST_AUTO_TEST_CASE(a_masked_client_frame_reads_back_unmasked_at_every_length_encoding) {
    for (size_t n : {5u, 125u, 126u, 65535u, 65536u, 70000u}) {
        std::string payload(n, 'p');
        payload[0] = 'a';
        std::string wire;
        bench::ws::append_client_frame(wire, bench::ws::kText, payload);
        bench::ws::Frame f;
        BOOST_TEST(bench::ws::parse_frame(wire.data(), wire.size(), f) == int64_t(wire.size()));
        BOOST_TEST(f.fin);
        BOOST_TEST(f.opcode == bench::ws::kText);
        BOOST_TEST(f.payload == payload);
        BOOST_TEST(bench::ws::parse_frame(wire.data(), wire.size() - 1, f) == 0);
    }
}

BOOST_AUTO_TEST_CASE(the_accept_key_is_the_one_of_rfc_6455) {
    BOOST_TEST(bench::ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

BOOST_AUTO_TEST_CASE(percentiles_are_within_two_percent) {
    bench::LatencyHistogram h;
    for (int64_t us = 1; us <= 100000; ++us) h.add(us);
    BOOST_TEST(h.quantile_ms(0.5) == 50.0, boost::test_tools::tolerance(0.02));
    BOOST_TEST(h.quantile_ms(0.99) == 99.0, boost::test_tools::tolerance(0.02));
    BOOST_TEST(h.quantile_ms(0.999) == 99.9, boost::test_tools::tolerance(0.02));
}
