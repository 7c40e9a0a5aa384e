// Declarations only; the driver itself is linked in by -sanitize=fuzzer.
#include "CFuzzerDriver.h"
