#include "handlers/plugin_loader.hpp"

#include "broker-bridge/errors.hpp"

#include <dlfcn.h>

#include <cstddef>
#include <optional>
#include <system_error>
#include <utility>

namespace bb::handlers {
namespace {

// The descriptor fields this host reads, up to and including destroy; a plugin built
// against an older header of the same ABI version may not have them all.
constexpr size_t kDescriptorSizeNeeded =
    offsetof(bb_plugin_descriptor, destroy) + sizeof(bb_plugin_descriptor::destroy);

bool valid_name(const std::string& name) {
    if (name.empty()) return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    return true;
}

std::string dl_error_text() {
    const char* text = dlerror();
    return text != nullptr ? text : "no dlerror() text";
}

std::string folder_list(const std::vector<std::filesystem::path>& search_path) {
    if (search_path.empty()) return "(plugins.path is empty)";
    std::string out;
    for (const auto& folder : search_path) {
        if (!out.empty()) out += ", ";
        out += folder.string();
    }
    return out;
}

std::optional<std::filesystem::path> find_library(
    const std::string& file_name, const std::vector<std::filesystem::path>& search_path) {
    for (const auto& folder : search_path) {
        std::error_code ec;
        // Absolute, so dlopen never falls back to its own search (LD_LIBRARY_PATH, ld.so
        // cache) for a name without a slash.
        std::filesystem::path candidate = std::filesystem::absolute(folder / file_name, ec);
        if (ec) continue;
        if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
    }
    return std::nullopt;
}

[[noreturn]] void refuse(const std::filesystem::path& path, std::string_view what,
                         std::string_view expected, std::string_view found) {
    throw StartupError("plugin " + path.string() + " refused: " + std::string(what) +
                       ": expected " + std::string(expected) + ", found " + std::string(found));
}

std::string text_or_null(const char* s) {
    return s != nullptr ? "'" + std::string(s) + "'" : "NULL";
}

// Everything this host relies on, checked before any of it is used. abi_version comes first:
// the layout of the rest is only known once it matches.
void check_descriptor(const bb_plugin_descriptor& d, const std::string& name,
                      const std::filesystem::path& path) {
    if (d.abi_version != BB_PLUGIN_ABI_VERSION) {
        refuse(path, "ABI version mismatch", std::to_string(BB_PLUGIN_ABI_VERSION),
               std::to_string(d.abi_version));
    }
    if (d.struct_size < kDescriptorSizeNeeded) {
        refuse(path, "descriptor too small", "at least " + std::to_string(kDescriptorSizeNeeded),
               std::to_string(d.struct_size) + " bytes");
    }
    if (d.name == nullptr || name != d.name) {
        refuse(path, "plugin name mismatch", "'" + name + "'", text_or_null(d.name));
    }
    if (d.version == nullptr) refuse(path, "no version string", "a version", "NULL");
    if (d.create == nullptr) refuse(path, "no create entry point", "a function", "NULL");
    if (d.handle == nullptr) refuse(path, "no handle entry point", "a function", "NULL");
    if (d.destroy == nullptr) refuse(path, "no destroy entry point", "a function", "NULL");
}

}  // namespace

void LoadedPlugin::DlClose::operator()(void* handle) const noexcept { dlclose(handle); }

// check_config came after the first descriptor layout: a plugin built before it has a
// shorter struct and no such field to read.
bool LoadedPlugin::has_config_check() const {
    constexpr size_t kWithCheck =
        offsetof(bb_plugin_descriptor, check_config) + sizeof(bb_plugin_descriptor::check_config);
    return descriptor_->struct_size >= kWithCheck && descriptor_->check_config != nullptr;
}

// flags came after check_config; a plugin built before it reads data_json from the event.
bool LoadedPlugin::json_on_demand() const {
    constexpr size_t kWithFlags =
        offsetof(bb_plugin_descriptor, flags) + sizeof(bb_plugin_descriptor::flags);
    return descriptor_->struct_size >= kWithFlags &&
           (descriptor_->flags & BB_PLUGIN_JSON_ON_DEMAND) != 0;
}

std::optional<std::string> LoadedPlugin::check_config(const std::string& config_yaml) const {
    if (!has_config_check()) return std::nullopt;
    bb_error err{};
    if (descriptor_->check_config(config_yaml.data(), config_yaml.size(), &err) == BB_OK) {
        return std::nullopt;
    }
    std::string message = err.message;
    return message.empty() ? "the plugin refused its config without a reason" : message;
}

LoadedPlugin::LoadedPlugin(Library library, const bb_plugin_descriptor* descriptor,
                           std::filesystem::path path)
    : library_(std::move(library)), descriptor_(descriptor), path_(std::move(path)) {}

LoadedPlugin load_plugin(const std::string& name,
                         const std::vector<std::filesystem::path>& search_path) {
    if (!valid_name(name)) {
        throw StartupError("plugin name '" + name + "' is malformed: expected [a-z0-9_]+");
    }
    const std::string file_name = "libbb_plugin_" + name + ".so";
    std::optional<std::filesystem::path> path = find_library(file_name, search_path);
    if (!path) {
        throw StartupError("plugin '" + name + "' not found: no " + file_name + " in " +
                           folder_list(search_path));
    }

    // RTLD_NOW: an unresolved symbol fails here, at start-up, not on the first event.
    // RTLD_LOCAL: plugins cannot bind to each other's symbols (two may bundle different
    // versions of one library).
    dlerror();
    LoadedPlugin::Library library(dlopen(path->c_str(), RTLD_NOW | RTLD_LOCAL));
    if (!library) {
        throw StartupError("plugin " + path->string() + " cannot be opened: " + dl_error_text());
    }

    dlerror();  // drop stale text, so the message below is dlsym's own
    void* symbol = dlsym(library.get(), BB_PLUGIN_DESCRIBE_SYMBOL);
    if (symbol == nullptr) {
        refuse(*path, "no descriptor function", BB_PLUGIN_DESCRIBE_SYMBOL, dl_error_text());
    }
    auto describe = reinterpret_cast<bb_plugin_describe_fn>(symbol);
    const bb_plugin_descriptor* descriptor = describe();
    if (descriptor == nullptr) {
        refuse(*path, BB_PLUGIN_DESCRIBE_SYMBOL "() returned no descriptor", "a descriptor",
               "NULL");
    }
    check_descriptor(*descriptor, name, *path);
    return LoadedPlugin(std::move(library), descriptor, std::move(*path));
}

}  // namespace bb::handlers
