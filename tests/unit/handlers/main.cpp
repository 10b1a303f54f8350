#define BOOST_TEST_MODULE bb_test_handlers
#include <boost/test/unit_test.hpp>
