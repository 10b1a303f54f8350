#define BOOST_TEST_MODULE bb_test_webpush
#include <boost/test/unit_test.hpp>
