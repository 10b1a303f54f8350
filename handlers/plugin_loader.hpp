#pragma once

#include <bb/plugin.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// Finds, opens and checks plugin libraries. Start-up only: every refusal is a StartupError
// whose one line names the file, what was expected and what was found.
namespace bb::handlers {

// An opened plugin library and its checked descriptor. Owned by the handler host for its
// whole life; the library is closed only when this object dies, so every instance made with
// descriptor().create must have been destroyed by then (plugin.h: dlclose after destroy).
// Move-only.
class LoadedPlugin {
public:
    LoadedPlugin(LoadedPlugin&&) noexcept = default;
    LoadedPlugin& operator=(LoadedPlugin&&) noexcept = default;
    ~LoadedPlugin() = default;

    const bb_plugin_descriptor& descriptor() const { return *descriptor_; }
    const std::filesystem::path& path() const { return path_; }
    std::string_view name() const { return descriptor_->name; }
    std::string_view version() const { return descriptor_->version; }
    // The plugin's check of a binding's `config:` text: its error message, nullopt when the
    // config is accepted or the plugin offers no check (has_config_check()).
    bool has_config_check() const;
    // BB_PLUGIN_JSON_ON_DEMAND: the plugin asks for data_json through the host table.
    bool json_on_demand() const;
    std::optional<std::string> check_config(const std::string& config_yaml) const;

private:
    struct DlClose {
        void operator()(void* handle) const noexcept;
    };
    using Library = std::unique_ptr<void, DlClose>;

    LoadedPlugin(Library library, const bb_plugin_descriptor* descriptor,
                 std::filesystem::path path);

    Library library_;
    const bb_plugin_descriptor* descriptor_;  // static storage inside the library
    std::filesystem::path path_;

    friend LoadedPlugin load_plugin(const std::string& name,
                                    const std::vector<std::filesystem::path>& search_path);
};

// Opens libbb_plugin_<name>.so from the first folder of `search_path` that holds it and
// checks its descriptor: ABI version, size, name, required entry points. `name` must be
// [a-z0-9_]+. Throws bb::StartupError when the name is malformed, no folder holds the file
// (the message lists the folders searched), dlopen or dlsym fails (with dlerror()'s text),
// or the descriptor does not match.
LoadedPlugin load_plugin(const std::string& name,
                         const std::vector<std::filesystem::path>& search_path);

}  // namespace bb::handlers
