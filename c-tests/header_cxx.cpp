// The header used from C++: it must compile with -std=c++11 -Wall -Wextra -Wpedantic -Werror,
// declare the functions with C linkage, and give the enums their uint32_t representation.
// Exit 0 = pass, anything else = fail.
#include <libsev.h>

#include <cstdio>
#include <cstring>
#include <type_traits>

static_assert(sizeof(libsev_status) == sizeof(uint32_t), "libsev_status is 32 bits");
static_assert(std::is_same<std::underlying_type<libsev_status>::type, uint32_t>::value,
              "libsev_status is based on uint32_t");
static_assert(LIBSEV_STATUS_OK == 0, "LIBSEV_STATUS_OK is 0");
static_assert(sizeof(libsev_error().message) == LIBSEV_ERROR_MESSAGE_LEN, "message size");

int main() {
    const char *v = libsev_version();
    if (v == nullptr || std::strcmp(v, LIBSEV_VERSION_STRING) != 0) {
        std::fprintf(stderr, "libsev_version() = %s, header says %s\n", v ? v : "(null)",
                     LIBSEV_VERSION_STRING);
        return 1;
    }
    if (std::strcmp(libsev_fw_error_str(0x0B), "BAD_MEASUREMENT") != 0) {
        std::fprintf(stderr, "libsev_fw_error_str(0x0B) = %s\n", libsev_fw_error_str(0x0B));
        return 1;
    }
    std::printf("header_cxx: libsev %s from C++\n", v);
    return 0;
}
