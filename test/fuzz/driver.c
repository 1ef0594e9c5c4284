/*
 * driver — runs a libFuzzer-style target (LLVMFuzzerTestOneInput) without
 * libFuzzer, so the fuzz targets run in every CI build (gcc, and under
 * AddressSanitizer + UBSan in the ASan build): each seed file as it is, then
 * a fixed number of mutants of the seeds (bit flips, byte changes, cuts,
 * insertions, duplicated runs, splices of two seeds) from a fixed PRNG seed,
 * so a failure reproduces. With clang, `-Dfuzz=true` links the same targets
 * against libFuzzer instead, for open-ended fuzzing (README, Tests).
 *
 *   driver ITERATIONS SEED...     (a SEED is a file, or a directory of them)
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seed {
	uint8_t *bytes;
	size_t len;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic across machines. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1du;
}

static size_t below(size_t n)
{
	return n == 0 ? 0 : (size_t)(rng() % n);
}

static int read_file(const char *path, struct seed *out)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -errno;
	out->bytes = malloc(INPUT_MAX);
	if (out->bytes == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(out->bytes, 1, INPUT_MAX, f);
	fclose(f);
	out->len = n;
	return 0;
}

/* Appends the seed in `path` (a file, or every file of a directory). */
static int add_seeds(const char *path, struct seed **seeds, size_t *n, size_t *cap)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[4096];
	int rc = 0;

	if (d == NULL) {
		if (*n == *cap) {
			struct seed *more = realloc(*seeds, (*cap * 2 + 8) * sizeof(**seeds));

			if (more == NULL)
				return -ENOMEM;
			*seeds = more;
			*cap = *cap * 2 + 8;
		}
		rc = read_file(path, &(*seeds)[*n]);
		if (rc == 0)
			(*n)++;
		return rc;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		rc = add_seeds(sub, seeds, n, cap);
	}
	closedir(d);
	return rc;
}

/* Runs the target on an exact-size copy: ASan then sees a read one past
 * the end. */
static int run_one(const uint8_t *bytes, size_t len)
{
	uint8_t *input = malloc(len > 0 ? len : 1);

	if (input == NULL)
		return -ENOMEM;
	memcpy(input, bytes, len);
	LLVMFuzzerTestOneInput(input, len);
	free(input);
	return 0;
}

/* One mutation of buf[0..*len) in place (room: INPUT_MAX). */
static void mutate(uint8_t *buf, size_t *len, const struct seed *seeds, size_t n_seeds)
{
	size_t at = below(*len + 1), n;
	const struct seed *other;

	switch (rng() % 7) {
	case 0: /* flip a bit */
		if (*len > 0)
			buf[below(*len)] ^= (uint8_t)(1u << (rng() % 8));
		break;
	case 1: /* an interesting byte */
		if (*len > 0) {
			static const uint8_t b[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x22};

			buf[below(*len)] = b[rng() % sizeof(b)];
		}
		break;
	case 2: /* cut the end */
		*len = below(*len + 1);
		break;
	case 3: /* insert random bytes */
		n = 1 + below(8);
		if (*len + n <= INPUT_MAX) {
			memmove(buf + at + n, buf + at, *len - at);
			for (size_t i = 0; i < n; i++)
				buf[at + i] = (uint8_t)rng();
			*len += n;
		}
		break;
	case 4: /* delete a run */
		if (at < *len) {
			n = 1 + below(*len - at);
			memmove(buf + at, buf + at + n, *len - at - n);
			*len -= n;
		}
		break;
	case 5: /* duplicate a run (repeated fields, counts past the limits) */
		if (at < *len) {
			n = 1 + below(*len - at);
			if (*len + n <= INPUT_MAX) {
				memmove(buf + at + n, buf + at, *len - at);
				*len += n;
			}
		}
		break;
	default: /* splice the tail of another seed */
		other = &seeds[below(n_seeds)];
		n = other->len - below(other->len + 1);
		if (at + n <= INPUT_MAX) {
			memcpy(buf + at, other->bytes + other->len - n, n);
			*len = at + n;
		}
		break;
	}
}

int main(int argc, char **argv)
{
	struct seed *seeds = NULL;
	uint8_t *buf = malloc(INPUT_MAX);
	unsigned long iterations;
	size_t n_seeds = 0, cap = 0, len;
	int rc = 1;

	if (argc < 3) {
		fprintf(stderr, "usage: %s ITERATIONS SEED...\n", argv[0]);
		free(buf);
		return 2;
	}
	iterations = strtoul(argv[1], NULL, 10);
	if (buf == NULL)
		goto out;
	for (int i = 2; i < argc; i++) {
		int e = add_seeds(argv[i], &seeds, &n_seeds, &cap);

		if (e < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(-e));
			goto out;
		}
	}
	if (n_seeds == 0) {
		fprintf(stderr, "no seed files\n");
		goto out;
	}
	for (size_t i = 0; i < n_seeds; i++)
		if (run_one(seeds[i].bytes, seeds[i].len) < 0)
			goto out;
	for (unsigned long it = 0; it < iterations; it++) {
		const struct seed *s = &seeds[below(n_seeds)];
		unsigned rounds = 1 + (unsigned)below(4);

		memcpy(buf, s->bytes, s->len);
		len = s->len;
		for (unsigned r = 0; r < rounds; r++)
			mutate(buf, &len, seeds, n_seeds);
		if (run_one(buf, len) < 0)
			goto out;
	}
	printf("%zu seeds, %lu mutants: no crash\n", n_seeds, iterations);
	rc = 0;
out:
	for (size_t i = 0; i < n_seeds; i++)
		free(seeds[i].bytes);
	free(seeds);
	free(buf);
	return rc;
}
