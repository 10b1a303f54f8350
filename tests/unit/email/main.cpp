#define BOOST_TEST_MODULE bb_test_email
#include <boost/test/unit_test.hpp>
