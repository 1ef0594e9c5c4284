/*
 * output — the signal lines on stdout: a fixed buffer written with write(2)
 * when it fills and whenever the stream goes idle (so a slow trickle shows at
 * once and a burst costs few system calls), and the end of the reader (a
 * closed pipe: EPIPE, with SIGPIPE ignored) reported as its own outcome so
 * that `sigstream subscribe | head -3` can end quietly.
 */
#ifndef SIGSTREAM_CLIENT_OUTPUT_H
#define SIGSTREAM_CLIENT_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

#define OUTPUT_BUFFER_SIZE 65536

struct output {
	int fd;
	size_t len;
	char buf[OUTPUT_BUFFER_SIZE];
};

void output_init(struct output *o, int fd);
/*
 * Makes room for `need` (<= OUTPUT_BUFFER_SIZE) bytes, flushing first if
 * needed, and returns where to write them in *space. Returns 0 or a flush error.
 */
int output_reserve(struct output *o, size_t need, char **space);
/* Appends `len` bytes written into the space output_reserve() returned. */
void output_commit(struct output *o, size_t len);
/* Writes out everything buffered: 0, -EPIPE (the reader is gone) or -errno. */
int output_flush(struct output *o);
/*
 * True when the reading end of a pipe on `fd` has closed, found without
 * writing: lets a quiet stream notice `| head` ending before it has a line
 * to write.
 */
bool output_reader_gone(const struct output *o);

#endif
