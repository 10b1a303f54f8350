#define BOOST_TEST_MODULE bb_test_edge
#include <boost/test/unit_test.hpp>
