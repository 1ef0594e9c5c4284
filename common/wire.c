#include "common/wire.h"

size_t wire_put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	const uint8_t *q = *p;
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64 && q < end; shift += 7) {
		uint8_t b = *q++;

		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*p = q;
			*out = v;
			return true;
		}
	}
	return false;
}

bool wire_bytes(const uint8_t **p, const uint8_t *end, const uint8_t **body, size_t *len)
{
	uint64_t n;

	if (!wire_varint(p, end, &n) || n > (uint64_t)(end - *p))
		return false;
	*body = *p;
	*len = (size_t)n;
	*p += n;
	return true;
}

bool wire_skip(const uint8_t **p, const uint8_t *end, unsigned wire_type)
{
	const uint8_t *body;
	uint64_t v;
	size_t len;

	switch (wire_type) {
	case 0:
		return wire_varint(p, end, &v);
	case 1:
		if (end - *p < 8)
			return false;
		*p += 8;
		return true;
	case 2:
		return wire_bytes(p, end, &body, &len);
	case 5:
		if (end - *p < 4)
			return false;
		*p += 4;
		return true;
	default:
		return false;
	}
}
