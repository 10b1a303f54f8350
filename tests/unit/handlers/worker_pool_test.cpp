#include "handlers/worker_pool.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "integration/wait.hpp"

using bb::Priority;
using bb::handlers::WorkerPool;
using namespace std::chrono_literals;

namespace {

// Holds the pool's threads busy until released, so later work has to queue.
struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    int entered = 0;

    void wait() {
        std::unique_lock lock(m);
        ++entered;
        cv.notify_all();
        cv.wait(lock, [&] { return open; });
    }
    bool wait_entered(int n) {
        std::unique_lock lock(m);
        return cv.wait_for(lock, 5s, [&] { return entered >= n; });
    }
    void release() {
        std::lock_guard lock(m);
        open = true;
        cv.notify_all();
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(worker_pool)

BOOST_AUTO_TEST_CASE(a_saturated_pool_serves_high_before_normal_before_low) {
    WorkerPool pool(1, 0);
    Gate gate;
    pool.submit(Priority::kNormal, [&] { gate.wait(); });
    BOOST_TEST_REQUIRE(gate.wait_entered(1));
    std::mutex m;
    std::condition_variable done;
    std::vector<std::string> order;
    auto record = [&](std::string name) {
        return [&, name] {
            std::lock_guard lock(m);
            order.push_back(name);
            done.notify_all();
        };
    };
    pool.submit(Priority::kLow, record("low"));
    pool.submit(Priority::kNormal, record("normal"));
    pool.submit(Priority::kHigh, record("high"));
    pool.submit(Priority::kLow, record("low2"));
    gate.release();
    std::unique_lock lock(m);
    BOOST_TEST_REQUIRE(done.wait_for(lock, 5s, [&] { return order.size() == 4; }));
    BOOST_TEST(order == (std::vector<std::string>{"high", "normal", "low", "low2"}),
               boost::test_tools::per_element());
}

// A task that loops over many events (a binding's drainer) asks whether to give way.
BOOST_AUTO_TEST_CASE(waiting_work_is_reported_by_priority) {
    WorkerPool pool(1, 0);
    Gate gate;
    pool.submit(Priority::kLow, [&] { gate.wait(); });
    BOOST_TEST_REQUIRE(gate.wait_entered(1));
    BOOST_TEST(!pool.waiting_above(Priority::kLow));
    BOOST_TEST(!pool.waiting_at(Priority::kLow));
    pool.submit(Priority::kNormal, [] {});
    BOOST_TEST(pool.waiting_above(Priority::kLow));
    BOOST_TEST(!pool.waiting_above(Priority::kNormal));
    BOOST_TEST(pool.waiting_at(Priority::kNormal));
    BOOST_TEST(!pool.waiting_above(Priority::kHigh));
    gate.release();
    BOOST_TEST(bb::itest::wait_until([&] { return !pool.waiting_at(Priority::kNormal); }, 5s));
    BOOST_TEST(pool.stop(5s) == 0);
}

BOOST_AUTO_TEST_CASE(a_stand_in_thread_keeps_work_flowing_while_one_is_stuck) {
    WorkerPool pool(1, 1);
    Gate stuck;
    pool.submit(Priority::kNormal, [&] { stuck.wait(); });
    BOOST_TEST_REQUIRE(stuck.wait_entered(1));
    BOOST_TEST(pool.add_replacement());
    BOOST_TEST(!pool.add_replacement());  // the cap is one extra thread
    std::atomic<bool> ran{false};
    pool.submit(Priority::kNormal, [&] { ran = true; });
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!ran && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    BOOST_TEST(ran.load());
    stuck.release();
    pool.release_replacement();
    BOOST_TEST(pool.stop(5s) == 0);
}

BOOST_AUTO_TEST_CASE(stop_reports_tasks_still_running_at_the_deadline) {
    Gate gate;  // outlives the pool: the stuck task still uses it after stop()
    WorkerPool pool(1, 0);
    pool.submit(Priority::kNormal, [&] { gate.wait(); });
    BOOST_TEST_REQUIRE(gate.wait_entered(1));
    BOOST_TEST(pool.stop(50ms) == 1);
    gate.release();
}

BOOST_AUTO_TEST_SUITE_END()
