/*
 * wire — protobuf wire format by hand, for the places that must see the
 * bytes themselves rather than a message: the load generator's scanner (it
 * reads three fields of every signal and decodes nothing else) and its
 * requests, request validation (a string's length on the wire), and the
 * server's batches (already-serialised signals framed as a SignalBatch).
 * Every function checks against `end` and fails rather than read past it.
 */
#ifndef SIGSTREAM_WIRE_H
#define SIGSTREAM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes `v` as a varint at `p` (room for 10 bytes); returns its length. */
size_t wire_put_varint(uint8_t *p, uint64_t v);
/* A varint at *p: advances *p past it. False when it is cut short or over
 * 10 bytes long. */
bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *out);
/* A length-delimited value: [*body, *body + *len), and *p past it. */
bool wire_bytes(const uint8_t **p, const uint8_t *end, const uint8_t **body, size_t *len);
/* Steps over a field's value of `wire_type` (the key's low 3 bits): proto3
 * has no groups, so types 3 and 4 fail like garbage does. */
bool wire_skip(const uint8_t **p, const uint8_t *end, unsigned wire_type);

#endif
