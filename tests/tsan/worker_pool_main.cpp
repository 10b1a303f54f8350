#define BOOST_TEST_MODULE worker_pool_tsan
#include <boost/test/unit_test.hpp>
