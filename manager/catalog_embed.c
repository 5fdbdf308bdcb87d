/* sdk/hook-catalog.json compiled into pliantctl, so `pliantctl verify`
 * works offline with no file to find. The Makefile rebuilds this object
 * when the catalog changes. */
#include "ctl.h"

__asm__(".section .rodata\n"
        ".global ctl_embedded_catalog\n"
        ".type ctl_embedded_catalog, @object\n"
        "ctl_embedded_catalog:\n"
        ".incbin \"sdk/hook-catalog.json\"\n"
        ".byte 0\n"
        ".size ctl_embedded_catalog, . - ctl_embedded_catalog\n"
        ".previous\n");
