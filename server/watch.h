/* Watched-directory mode (`--watch-dir DIR`, `watch_dir = DIR`): the
 * shared-folder path of the original system (a virtio-fs folder the
 * Manager writes into). A signed package (*.pkg) written into DIR — closed
 * after writing, or renamed into it — goes through the same checks as a
 * push (signature, verifier, store) and is attached; removing or renaming
 * it away detaches its hook, if that file's version is still the active
 * one. Other file names are ignored (editors' temporaries). At start-up
 * the files already there are processed in name order: in this mode the
 * directory is the source of truth. Every change is in the audit log with
 * who = "watch:<file>". Uses inotify(7). */
#ifndef PL_SERVER_WATCH_H
#define PL_SERVER_WATCH_H

#include <stddef.h>

struct server;

int watch_start(struct server *srv, const char *dir, char *err, size_t errlen);
void watch_stop(void);

#endif
