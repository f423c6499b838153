// Compiled with -S by a (cross) compiler, never run: the assembly lists the request numbers of the
// target architecture in order, so tests can read the ppc64 numbers on an x86 machine.
#include "../request_list.h"
#include "../uapi.h"

#define KVS_VALUE(name) static_cast<unsigned long long>(name),
#define KVS_NAME(name) #name "\n"

extern "C" {
extern const unsigned long long kvs_request_values[] = {KVS_REQUESTS(KVS_VALUE)};
extern const char kvs_request_names[] = KVS_REQUESTS(KVS_NAME);
}
