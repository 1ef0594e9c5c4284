#include "server/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define LISTENER_MAX 8 /* addresses one name may resolve to */

struct listener {
	int fds[LISTENER_MAX];
	unsigned n_fds;
	int stop_pipe[2]; /* a byte on [1] stops the accept thread */
	listener_accept_fn on_accept;
	void *ctx;
	pthread_t thread;
	bool started;
};

static int set_flags(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static void format_peer(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(buf, cap, "ipv6:[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(buf, cap, "ipv4:%s:%u", host, (unsigned)ntohs(a->sin_port));
	} else {
		snprintf(buf, cap, "unknown");
	}
}

/* The port field of an IPv4 or IPv6 address, in network order. */
static in_port_t *port_of(struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return &((struct sockaddr_in6 *)ss)->sin6_port;
	return &((struct sockaddr_in *)ss)->sin_port;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -errno;
	return ntohs(*port_of(&ss));
}

/* Binds one socket to `sa` (with `port` in place of its port when nonzero)
 * and listens. dual: an IPv6 wildcard that takes IPv4 too. */
static int open_one(const struct sockaddr *sa, socklen_t len, int port, bool dual)
{
	struct sockaddr_storage ss;
	int one = 1, v6only = dual ? 0 : 1;
	int fd, rc;

	memcpy(&ss, sa, len);
	if (port > 0)
		*port_of(&ss) = htons((uint16_t)port);
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, SOMAXCONN) != 0)
		goto fail;
	rc = set_flags(fd);
	if (rc < 0) {
		errno = -rc;
		goto fail;
	}
	return fd;

fail:
	rc = -errno;
	close(fd);
	return rc;
}

/* Splits "HOST:PORT" / "[V6]:PORT"; host may be empty. Returns the port
 * or -EINVAL. */
static int split_addr(const char *addr, char *host, size_t cap)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t hlen;
	char *end;
	long p;

	if (colon == NULL)
		return -EINVAL;
	hlen = (size_t)(colon - addr);
	if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen >= cap)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 0 || p > 65535)
		return -EINVAL;
	return (int)p;
}

static bool is_wildcard(const char *host)
{
	return host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

/* Opens the wildcard: one dual-stack IPv6 socket, else IPv4 alone. */
static int open_wildcard(struct listener *l, int port)
{
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
	int fd = open_one((struct sockaddr *)&a6, sizeof(a6), port, true);

	if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL)
		fd = open_one((struct sockaddr *)&a4, sizeof(a4), port, false);
	if (fd < 0)
		return fd;
	l->fds[l->n_fds++] = fd;
	return 0;
}

static int open_resolved(struct listener *l, const char *host, int port)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST,
	};
	struct addrinfo *res = NULL;
	char port_s[8];
	int rc;

	snprintf(port_s, sizeof(port_s), "%d", port);
	/* Literal first: a static binary cannot load the NSS modules that
	 * resolve names. */
	rc = getaddrinfo(host, port_s, &hints, &res);
	if (rc == EAI_NONAME) {
		hints.ai_flags &= ~AI_NUMERICHOST;
		rc = getaddrinfo(host, port_s, &hints, &res);
	}
	if (rc != 0)
		return -EADDRNOTAVAIL;
	rc = 0;
	for (struct addrinfo *ai = res; ai != NULL && l->n_fds < LISTENER_MAX; ai = ai->ai_next) {
		int fd = open_one(ai->ai_addr, ai->ai_addrlen, port, false);

		if (fd < 0) {
			/* A name may resolve to an address this host lacks
			 * (::1 without IPv6): enough if another binds. */
			if (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT)
				continue;
			rc = fd;
			break;
		}
		l->fds[l->n_fds++] = fd;
		if (port == 0)
			port = bound_port(fd); /* the others share the port picked */
	}
	freeaddrinfo(res);
	if (rc == 0 && l->n_fds == 0)
		rc = -EADDRNOTAVAIL;
	return rc;
}

int listener_create(struct listener **out, const char *addr, listener_accept_fn on_accept,
		    void *ctx, int *port, char *err, size_t err_cap)
{
	struct listener *l = calloc(1, sizeof(*l));
	char host[256];
	int rc, want_port;

	if (l == NULL) {
		snprintf(err, err_cap, "out of memory");
		return -ENOMEM;
	}
	l->on_accept = on_accept;
	l->ctx = ctx;
	l->stop_pipe[0] = l->stop_pipe[1] = -1;
	rc = want_port = split_addr(addr, host, sizeof(host));
	if (rc < 0) {
		snprintf(err, err_cap, "cannot listen on %s: not HOST:PORT with PORT in 0..65535",
			 addr);
		goto fail;
	}
	rc = is_wildcard(host) ? open_wildcard(l, want_port) : open_resolved(l, host, want_port);
	if (rc < 0) {
		snprintf(err, err_cap, "cannot listen on %s: %s", addr,
			 rc == -EADDRNOTAVAIL ? "not an address of this host" : strerror(-rc));
		goto fail;
	}
	if (pipe(l->stop_pipe) != 0) {
		rc = -errno;
		snprintf(err, err_cap, "cannot listen on %s: %s", addr, strerror(-rc));
		goto fail;
	}
	fcntl(l->stop_pipe[0], F_SETFD, FD_CLOEXEC);
	fcntl(l->stop_pipe[1], F_SETFD, FD_CLOEXEC);
	rc = bound_port(l->fds[0]);
	if (rc < 0) {
		snprintf(err, err_cap, "cannot listen on %s: %s", addr, strerror(-rc));
		goto fail;
	}
	*port = rc;
	*out = l;
	return 0;

fail:
	listener_destroy(l);
	return rc;
}

static void accept_ready(struct listener *l, int lfd)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char peer[80];
		int one = 1;
		int fd = accept(lfd, (struct sockaddr *)&ss, &len);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				/* Out of descriptors or memory: the connection
				 * waits in the backlog; do not spin on it. */
				struct timespec pause = {0, 100 * 1000 * 1000};

				log_warn("accept_failed", "reason=%s", strerror(errno));
				nanosleep(&pause, NULL);
			}
			return;
		}
		if (set_flags(fd) < 0) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		format_peer(&ss, peer, sizeof(peer));
		l->on_accept(l->ctx, fd, peer);
	}
}

static void *accept_main(void *arg)
{
	struct listener *l = arg;
	struct pollfd pfd[LISTENER_MAX + 1];

	for (unsigned i = 0; i < l->n_fds; i++)
		pfd[i] = (struct pollfd){.fd = l->fds[i], .events = POLLIN};
	pfd[l->n_fds] = (struct pollfd){.fd = l->stop_pipe[0], .events = POLLIN};
	for (;;) {
		if (poll(pfd, l->n_fds + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("accept_failed", "reason=%s", strerror(errno));
			break;
		}
		if (pfd[l->n_fds].revents != 0)
			break;
		for (unsigned i = 0; i < l->n_fds; i++)
			if (pfd[i].revents != 0)
				accept_ready(l, l->fds[i]);
	}
	return NULL;
}

int listener_start(struct listener *l)
{
	int rc = pthread_create(&l->thread, NULL, accept_main, l);

	if (rc != 0)
		return -rc;
	l->started = true;
	return 0;
}

void listener_stop(struct listener *l)
{
	if (l == NULL)
		return;
	if (l->started) {
		char b = 1;

		while (write(l->stop_pipe[1], &b, 1) < 0 && errno == EINTR)
			;
		pthread_join(l->thread, NULL);
		l->started = false;
	}
	for (unsigned i = 0; i < l->n_fds; i++)
		close(l->fds[i]);
	l->n_fds = 0;
}

void listener_destroy(struct listener *l)
{
	if (l == NULL)
		return;
	listener_stop(l);
	for (int i = 0; i < 2; i++)
		if (l->stop_pipe[i] >= 0)
			close(l->stop_pipe[i]);
	free(l);
}
