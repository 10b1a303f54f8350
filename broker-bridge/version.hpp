#pragma once

#include <bb/plugin.h>

namespace bb {

inline constexpr const char* kVersion = "0.1.0";
inline constexpr unsigned kPluginAbiVersion = BB_PLUGIN_ABI_VERSION;

}  // namespace bb
