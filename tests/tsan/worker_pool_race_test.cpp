// The worker pool under ThreadSanitizer: many threads submit at every priority while the pool
// grows and shrinks by stand-in threads and others read its queue length. Every task runs
// exactly once, and stop() returns with none left running.
#include "handlers/worker_pool.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "integration/wait.hpp"

using bb::Priority;
using bb::handlers::WorkerPool;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(worker_pool_races)

BOOST_AUTO_TEST_CASE(concurrent_submitters_and_stand_ins_run_every_task_once) {
    constexpr int kSubmitters = 4;
    constexpr int kTasksEach = 2000;
    WorkerPool pool(3, 2);
    std::atomic<int> ran{0};
    std::vector<std::atomic<int>> runs(kSubmitters * kTasksEach);
    std::vector<std::thread> submitters;
    for (int s = 0; s < kSubmitters; ++s) {
        submitters.emplace_back([&, s] {
            for (int i = 0; i < kTasksEach; ++i) {
                auto priority = static_cast<Priority>(i % 3);
                int slot = s * kTasksEach + i;
                pool.submit(priority, [&, slot] {
                    runs[slot].fetch_add(1);
                    ran.fetch_add(1);
                });
            }
        });
    }
    std::thread resizer([&] {
        for (int i = 0; i < 200; ++i) {
            if (pool.add_replacement()) pool.release_replacement();
            (void)pool.queued();
            (void)pool.waiting_above(Priority::kLow);
            (void)pool.waiting_at(Priority::kNormal);
        }
    });
    for (auto& t : submitters) t.join();
    resizer.join();
    BOOST_TEST_REQUIRE(
        bb::itest::wait_until([&] { return ran.load() == kSubmitters * kTasksEach; }, 30s));
    BOOST_TEST(pool.stop(5s) == 0);
    int twice = 0;
    for (auto& r : runs) twice += r.load() != 1;
    BOOST_TEST(twice == 0);
}

BOOST_AUTO_TEST_CASE(stopping_while_work_is_submitted_drops_queued_tasks_cleanly) {
    std::atomic<int> ran{0};
    std::atomic<bool> stop_submitting{false};
    {
        WorkerPool pool(2, 1);
        std::thread submitter([&] {
            for (int i = 0; i < 5000 && !stop_submitting.load(); ++i) {
                pool.submit(Priority::kNormal, [&] { ran.fetch_add(1); });
            }
        });
        BOOST_TEST_REQUIRE(bb::itest::wait_until([&] { return ran.load() > 10; }, 10s));
        BOOST_TEST(pool.stop(5s) == 0);
        stop_submitting = true;
        submitter.join();
    }
    BOOST_TEST(ran.load() > 10);
}

BOOST_AUTO_TEST_SUITE_END()
