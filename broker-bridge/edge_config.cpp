#include "broker-bridge/edge_config.hpp"

namespace bb {

EdgeConfig read_edge_config(const config::Node& n) {
    EdgeConfig e;
    n.expect_keys({"listen", "path"});
    e.listen = n.required("listen").as_string();
    if (n.has("path")) e.path = n["path"].as_string();
    if (e.path.empty() || e.path.front() != '/') n["path"].fail("path must start with '/'");
    return e;
}

}  // namespace bb
