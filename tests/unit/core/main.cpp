#define BOOST_TEST_MODULE bb_test_core
#include <boost/test/unit_test.hpp>
