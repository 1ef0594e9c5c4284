#include "client/output.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

void output_init(struct output *o, int fd)
{
	o->fd = fd;
	o->len = 0;
}

int output_flush(struct output *o)
{
	size_t off = 0;

	while (off < o->len) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			/* Someone made the shared stdout non-blocking: wait until it drains. */
			struct pollfd p = {.fd = o->fd, .events = POLLOUT};

			poll(&p, 1, -1);
			continue;
		}
		/* Nothing more can go out: drop what is left so a later flush does not retry it. */
		o->len = 0;
		return -errno;
	}
	o->len = 0;
	return 0;
}

int output_reserve(struct output *o, size_t need, char **space)
{
	int rc;

	if (need > sizeof(o->buf) - o->len) {
		rc = output_flush(o);
		if (rc < 0)
			return rc;
	}
	*space = o->buf + o->len;
	return 0;
}

void output_commit(struct output *o, size_t len)
{
	o->len += len;
}

bool output_reader_gone(const struct output *o)
{
	struct pollfd p = {.fd = o->fd, .events = 0};

	/* POLLERR on a pipe's write end means no reader is left (Linux, BSDs). */
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)) != 0;
}
