#include "handlers/plugin_loader.hpp"

#include "broker-bridge/errors.hpp"
#include "unit/handlers/plugin_harness.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using bb::handlers::load_plugin;

namespace {

const fs::path kTestPlugins = BB_TEST_PLUGIN_DIR;
const fs::path kPlugins = BB_PLUGIN_DIR;

// The StartupError text of a load that must fail; fails the test when it loads.
std::string load_error(const std::string& name, const std::vector<fs::path>& search_path) {
    try {
        load_plugin(name, search_path);
    } catch (const bb::StartupError& e) {
        return e.what();
    }
    BOOST_ERROR("plugin '" << name << "' loaded although it must be refused");
    return {};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(plugin_loader)

BOOST_AUTO_TEST_CASE(finds_a_plugin_and_checks_its_descriptor) {
    bb::test::TempDir empty;
    auto plugin = load_plugin("scripted", {empty.path(), kTestPlugins, kPlugins});

    BOOST_TEST(plugin.path() == fs::absolute(kTestPlugins / "libbb_plugin_scripted.so"));
    BOOST_TEST(plugin.name() == "scripted");
    BOOST_TEST(plugin.version() == "1.0.0");
    BOOST_TEST(plugin.descriptor().abi_version == BB_PLUGIN_ABI_VERSION);
    BOOST_TEST(plugin.descriptor().tick != nullptr);  // ScriptedPlugin has tick()
    // tick is optional: a class without one exports none.
    BOOST_TEST(load_plugin("analytics", {kPlugins}).descriptor().tick == nullptr);
}

BOOST_AUTO_TEST_CASE(the_first_folder_holding_the_file_wins) {
    bb::test::TempDir first;
    fs::copy_file(kTestPlugins / "libbb_plugin_scripted.so", first / "libbb_plugin_scripted.so");

    auto plugin = load_plugin("scripted", {first.path(), kTestPlugins});

    BOOST_TEST(plugin.path() == first / "libbb_plugin_scripted.so");
}

BOOST_AUTO_TEST_CASE(a_moved_plugin_still_makes_working_instances) {
    auto loaded = load_plugin("scripted", {kTestPlugins});
    bb::handlers::LoadedPlugin plugin = std::move(loaded);
    bb::test::FakeHost host;

    bb::test::PluginInstance instance(plugin.descriptor(), host, "");

    BOOST_TEST(instance.handle(bb::test::make_event("ev-1")).result == BB_RESULT_DONE);
}

BOOST_AUTO_TEST_CASE(refuses_another_abi_version_naming_path_expected_and_found) {
    std::string message = load_error("bad_abi", {kTestPlugins});

    BOOST_TEST(contains(message, fs::absolute(kTestPlugins / "libbb_plugin_bad_abi.so").string()));
    BOOST_TEST(contains(message, "ABI version"));
    BOOST_TEST(contains(message, "expected 1"));
    BOOST_TEST(contains(message, "found 999"));
    BOOST_TEST(!contains(message, "\n"));
}

BOOST_AUTO_TEST_CASE(refuses_a_library_without_the_descriptor_symbol) {
    std::string message = load_error("no_symbol", {kTestPlugins});

    BOOST_TEST(contains(message, (kTestPlugins / "libbb_plugin_no_symbol.so").string()));
    BOOST_TEST(contains(message, "expected bb_plugin_describe"));
    BOOST_TEST(contains(message, "undefined symbol"));  // dlerror()'s words
}

BOOST_AUTO_TEST_CASE(refuses_a_descriptor_that_names_another_plugin) {
    bb::test::TempDir dir;
    fs::copy_file(kTestPlugins / "libbb_plugin_scripted.so", dir / "libbb_plugin_impostor.so");

    std::string message = load_error("impostor", {dir.path()});

    BOOST_TEST(contains(message, (dir / "libbb_plugin_impostor.so").string()));
    BOOST_TEST(contains(message, "expected 'impostor', found 'scripted'"));
}

BOOST_AUTO_TEST_CASE(refuses_a_file_that_is_not_a_shared_library_with_dlerror_text) {
    bb::test::TempDir dir;
    std::ofstream(dir / "libbb_plugin_junk.so") << "not an ELF file\n";

    std::string message = load_error("junk", {dir.path()});

    BOOST_TEST(contains(message, (dir / "libbb_plugin_junk.so").string()));
    BOOST_TEST(contains(message, "cannot be opened"));
    BOOST_TEST(contains(message, "libbb_plugin_junk.so:"));  // dlerror() names the file too
}

BOOST_AUTO_TEST_CASE(a_missing_plugin_lists_every_folder_searched) {
    bb::test::TempDir a;
    bb::test::TempDir b;

    std::string message = load_error("nowhere", {a.path(), b.path()});

    BOOST_TEST(contains(message, "libbb_plugin_nowhere.so"));
    BOOST_TEST(contains(message, a.path().string() + ", " + b.path().string()));
    BOOST_TEST(contains(load_error("nowhere", {}), "plugins.path is empty"));
}

BOOST_AUTO_TEST_CASE(refuses_malformed_names_before_touching_the_file_system) {
    for (const std::string name :
         {"", "../test-plugins/scripted", "Scripted", "a-b", "a.b", "scripted ", "scripted\n"}) {
        BOOST_TEST_CONTEXT("name '" << name << "'") {
            BOOST_TEST(contains(load_error(name, {kTestPlugins}), "expected [a-z0-9_]+"));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
