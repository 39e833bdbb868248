#pragma once

// Only on builds that use subprojects/doctest.wrap (meson.build): its dependency
// puts doctest's own folder on the include path, so the header is <doctest.h>.
#include <doctest.h>
