/*
 * rpc_reflection — gRPC server reflection on the C core. See
 * rpc_reflection.h.
 *
 * The index: the embedded FileDescriptorSet is split into its files by hand
 * (so each file's bytes can be sent back exactly as protoc wrote them), each
 * file is decoded with protobuf-c's descriptor.proto types, and every
 * fully-qualified name it defines goes into one sorted symbol table, the
 * way protobuf's C++ DescriptorPool scopes them: messages, fields, oneofs,
 * enums, enum values (siblings of their enum), services, methods and
 * extensions. It is read-only after startup.
 *
 * A stream: requests are answered one at a time, in order. A RECV_MESSAGE
 * and a SEND_MESSAGE alternate (never both in flight), so the answers keep
 * the requests' order and a client that sends faster than it reads is held
 * back by flow control. The client's half-close ends the stream with OK.
 * Reflection traffic is a few requests per tool invocation: one mutex guards
 * every stream's state and the stream list.
 *
 * The answers follow the C++ reference server (proto_server_reflection.cc):
 * a file comes with its transitive dependencies, depth first, each once
 * per answer; unknown names get an error_response NOT_FOUND ("File not
 * found.", "Symbol not found.", "Type not found.", "Extension not found.")
 * and the stream stays open; all_extension_numbers_of_type on a known
 * message answers its base type with an empty list (there are no
 * extensions here).
 */
#include "server/rpc_reflection.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>

#include "common/log.h"
#include "common/wire.h"
#include "server/descriptor.pb-c.h"
#include "server/reflection.pb-c.h"
#include "server/rpc_internal.h"

/* Defined by the build: tools/embed.py over proto/signals/v1's
 * reflection.protoset. */
extern const unsigned char rpc_reflection_descriptor_set[];
extern const size_t rpc_reflection_descriptor_set_len;

#define REFL_ACCEPTS 2         /* request_registered_calls kept armed per method */
#define REFL_STREAMS_MAX 64    /* open reflection streams; beyond: RESOURCE_EXHAUSTED */
#define REFL_REQUEST_BYTES_MAX 4096

/* The services this server answers, as list_services reports them. */
static const char *const served_services[] = {
	"signals.v1.SignalService",
	"grpc.health.v1.Health",
	"grpc.reflection.v1.ServerReflection",
	"grpc.reflection.v1alpha.ServerReflection",
};

#define N_SERVED (sizeof(served_services) / sizeof(served_services[0]))

/*
 * Both APIs share one codec: v1alpha's messages are v1's with another
 * package name, which never goes on the wire.
 */
enum refl_api {
	REFL_V1,
	REFL_V1ALPHA,
	REFL_APIS,
};

static const char *const api_paths[REFL_APIS] = {
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
};

static const char *const api_names[REFL_APIS] = {"v1", "v1alpha"};

typedef Grpc__Reflection__V1__ServerReflectionRequest refl_request;
typedef Grpc__Reflection__V1__ServerReflectionResponse refl_response;

/* ---- the index ---- */

enum refl_kind {
	KIND_MESSAGE,
	KIND_SERVICE,
	KIND_OTHER,
};

struct refl_file {
	Google__Protobuf__FileDescriptorProto *fd;
	const uint8_t *data; /* its bytes inside the embedded set */
	size_t len;
	size_t *deps;        /* indexes into files */
	size_t n_deps;
};

struct refl_symbol {
	char *name;          /* fully qualified, no leading dot */
	size_t file;
	enum refl_kind kind;
};

struct refl_extension {
	const char *extendee; /* fully qualified, no leading dot; points into fd */
	int32_t number;
	size_t file;
};

struct refl_index {
	struct refl_file *files;
	size_t n_files, cap_files;
	struct refl_symbol *symbols;
	size_t n_symbols, cap_symbols;
	struct refl_extension *exts;
	size_t n_exts, cap_exts;
};

/* ---- streams ---- */

struct refl_stream {
	struct rpc_tag t_close, t_recv, t_send, t_status;
	struct rpc_reflection *r;
	grpc_call *call;
	struct rpc_deadline deadline;
	enum refl_api api;
	unsigned refs;        /* pending batches, + the accept path while it runs */
	bool recv_pending;
	bool send_pending;
	bool finishing;       /* status sent */
	bool closed;          /* the call is over: start nothing more */
	int cancelled;
	const char *end_reason;
	uint64_t id;
	uint64_t requests;
	grpc_byte_buffer *recv_bb;
	grpc_byte_buffer *send_bb;
	struct refl_stream *prev, *next;
};

struct rpc_reflection {
	struct rpc_method methods[REFL_APIS];
	struct refl_index index;
	pthread_mutex_t lock;  /* everything below, and every stream's state */
	bool shutting_down;
	struct refl_stream *streams;
	unsigned n_streams;
	uint64_t next_id;
};

static void close_done(struct rpc_tag *tag, bool ok);
static void recv_done(struct rpc_tag *tag, bool ok);
static void send_done(struct rpc_tag *tag, bool ok);
static void status_done(struct rpc_tag *tag, bool ok);

/* ---- building the index ---- */

/* Makes room for one more element of `size` bytes in *arr. */
static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap > 0 ? *cap * 2 : 16;
	p = realloc(*arr, ncap * size);
	if (p == NULL)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/*
 * The next FileDescriptorSet.file (field 1) from *p: 1 found (its bytes in
 * *data, *len), 0 at the end, -EINVAL malformed. Other fields are skipped.
 */
static int next_file(const uint8_t **p, const uint8_t *end, const uint8_t **data, size_t *len)
{
	uint64_t key;

	while (*p < end) {
		if (!wire_varint(p, end, &key))
			return -EINVAL;
		if (key == ((1u << 3) | 2))
			return wire_bytes(p, end, data, len) ? 1 : -EINVAL;
		if (!wire_skip(p, end, (unsigned)(key & 7)))
			return -EINVAL;
	}
	return 0;
}

/* Adds scope.name (or name at the root); *full gets the stored name. */
static int add_symbol(struct refl_index *ix, const char *scope, const char *name, size_t file,
		      enum refl_kind kind, const char **full)
{
	size_t ls = strlen(scope), ln;
	char *s;

	if (name == NULL || name[0] == '\0')
		return -EINVAL;
	ln = strlen(name);
	if (grow((void **)&ix->symbols, &ix->cap_symbols, ix->n_symbols, sizeof(*ix->symbols)) < 0)
		return -ENOMEM;
	s = malloc(ls + ln + 2);
	if (s == NULL)
		return -ENOMEM;
	if (ls > 0) {
		memcpy(s, scope, ls);
		s[ls] = '.';
		memcpy(s + ls + 1, name, ln + 1);
	} else {
		memcpy(s, name, ln + 1);
	}
	ix->symbols[ix->n_symbols++] = (struct refl_symbol){.name = s, .file = file, .kind = kind};
	if (full != NULL)
		*full = s;
	return 0;
}

static int index_extension(struct refl_index *ix, const char *scope,
			   const Google__Protobuf__FieldDescriptorProto *f, size_t file)
{
	const char *extendee = f->extendee;
	int rc = add_symbol(ix, scope, f->name, file, KIND_OTHER, NULL);

	if (rc < 0)
		return rc;
	if (extendee == NULL || !f->has_number)
		return -EINVAL;
	if (extendee[0] == '.')
		extendee++;
	if (grow((void **)&ix->exts, &ix->cap_exts, ix->n_exts, sizeof(*ix->exts)) < 0)
		return -ENOMEM;
	ix->exts[ix->n_exts++] = (struct refl_extension){
		.extendee = extendee, .number = f->number, .file = file};
	return 0;
}

/* An enum and its values; the values are siblings of the enum in `scope`. */
static int index_enum(struct refl_index *ix, const char *scope,
		      const Google__Protobuf__EnumDescriptorProto *e, size_t file)
{
	int rc = add_symbol(ix, scope, e->name, file, KIND_OTHER, NULL);

	for (size_t i = 0; rc == 0 && i < e->n_value; i++)
		rc = add_symbol(ix, scope, e->value[i]->name, file, KIND_OTHER, NULL);
	return rc;
}

static int index_message(struct refl_index *ix, const char *scope,
			 const Google__Protobuf__DescriptorProto *m, size_t file)
{
	const char *full;
	int rc = add_symbol(ix, scope, m->name, file, KIND_MESSAGE, &full);

	for (size_t i = 0; rc == 0 && i < m->n_field; i++)
		rc = add_symbol(ix, full, m->field[i]->name, file, KIND_OTHER, NULL);
	for (size_t i = 0; rc == 0 && i < m->n_oneof_decl; i++)
		rc = add_symbol(ix, full, m->oneof_decl[i]->name, file, KIND_OTHER, NULL);
	for (size_t i = 0; rc == 0 && i < m->n_extension; i++)
		rc = index_extension(ix, full, m->extension[i], file);
	for (size_t i = 0; rc == 0 && i < m->n_enum_type; i++)
		rc = index_enum(ix, full, m->enum_type[i], file);
	for (size_t i = 0; rc == 0 && i < m->n_nested_type; i++)
		rc = index_message(ix, full, m->nested_type[i], file);
	return rc;
}

static int index_file(struct refl_index *ix, size_t file)
{
	const Google__Protobuf__FileDescriptorProto *fd = ix->files[file].fd;
	const char *pkg = fd->package != NULL ? fd->package : "";
	const char *full;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < fd->n_message_type; i++)
		rc = index_message(ix, pkg, fd->message_type[i], file);
	for (size_t i = 0; rc == 0 && i < fd->n_enum_type; i++)
		rc = index_enum(ix, pkg, fd->enum_type[i], file);
	for (size_t i = 0; rc == 0 && i < fd->n_extension; i++)
		rc = index_extension(ix, pkg, fd->extension[i], file);
	for (size_t i = 0; rc == 0 && i < fd->n_service; i++) {
		const Google__Protobuf__ServiceDescriptorProto *svc = fd->service[i];

		rc = add_symbol(ix, pkg, svc->name, file, KIND_SERVICE, &full);
		for (size_t j = 0; rc == 0 && j < svc->n_method; j++)
			rc = add_symbol(ix, full, svc->method[j]->name, file, KIND_OTHER, NULL);
	}
	return rc;
}

static long find_file(const struct refl_index *ix, const char *name)
{
	for (size_t i = 0; i < ix->n_files; i++) {
		if (strcmp(ix->files[i].fd->name, name) == 0)
			return (long)i;
	}
	return -1;
}

static int symbol_cmp(const void *a, const void *b)
{
	return strcmp(((const struct refl_symbol *)a)->name, ((const struct refl_symbol *)b)->name);
}

static const struct refl_symbol *find_symbol(const struct refl_index *ix, const char *name)
{
	struct refl_symbol key = {.name = (char *)name};

	if (ix->n_symbols == 0)
		return NULL;
	return bsearch(&key, ix->symbols, ix->n_symbols, sizeof(*ix->symbols), symbol_cmp);
}

static int resolve_deps(struct refl_index *ix, size_t file)
{
	struct refl_file *f = &ix->files[file];

	if (f->fd->n_dependency == 0)
		return 0;
	f->deps = calloc(f->fd->n_dependency, sizeof(*f->deps));
	if (f->deps == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < f->fd->n_dependency; i++) {
		long d = find_file(ix, f->fd->dependency[i]);

		if (d < 0) {
			/* protoc ran without --include_imports: grpcurl could not
			 * resolve this file's types. */
			log_error("reflection_index", "file=%s missing_dependency=%s", f->fd->name,
				  f->fd->dependency[i]);
			return -EINVAL;
		}
		f->deps[f->n_deps++] = (size_t)d;
	}
	return 0;
}

static void index_free(struct refl_index *ix)
{
	for (size_t i = 0; i < ix->n_files; i++) {
		google__protobuf__file_descriptor_proto__free_unpacked(ix->files[i].fd, NULL);
		free(ix->files[i].deps);
	}
	free(ix->files);
	for (size_t i = 0; i < ix->n_symbols; i++)
		free(ix->symbols[i].name);
	free(ix->symbols);
	free(ix->exts);
	memset(ix, 0, sizeof(*ix));
}

/* Builds the index over a serialized FileDescriptorSet that outlives it. */
static int index_build(struct refl_index *ix, const uint8_t *set, size_t len)
{
	const uint8_t *p = set, *end = set + len, *data;
	size_t flen;
	int rc;

	memset(ix, 0, sizeof(*ix));
	while ((rc = next_file(&p, end, &data, &flen)) > 0) {
		Google__Protobuf__FileDescriptorProto *fd =
			google__protobuf__file_descriptor_proto__unpack(NULL, flen, data);

		if (fd == NULL || fd->name == NULL) {
			if (fd != NULL)
				google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
			rc = -EINVAL;
			goto fail;
		}
		if (grow((void **)&ix->files, &ix->cap_files, ix->n_files, sizeof(*ix->files)) < 0) {
			google__protobuf__file_descriptor_proto__free_unpacked(fd, NULL);
			rc = -ENOMEM;
			goto fail;
		}
		ix->files[ix->n_files++] = (struct refl_file){.fd = fd, .data = data, .len = flen};
	}
	if (rc < 0)
		goto fail;
	for (size_t i = 0; i < ix->n_files; i++) {
		rc = resolve_deps(ix, i);
		if (rc == 0)
			rc = index_file(ix, i);
		if (rc < 0)
			goto fail;
	}
	if (ix->n_symbols > 0)
		qsort(ix->symbols, ix->n_symbols, sizeof(*ix->symbols), symbol_cmp);
	return 0;

fail:
	index_free(ix);
	return rc;
}

/* ---- answering one request ---- */

/* The file and its transitive dependencies, depth first, each once. */
static void collect_files(const struct refl_index *ix, size_t file, bool *seen,
			  ProtobufCBinaryData *out, size_t *n)
{
	const struct refl_file *f = &ix->files[file];

	if (seen[file])
		return;
	seen[file] = true;
	out[(*n)++] = (ProtobufCBinaryData){.len = f->len, .data = (uint8_t *)f->data};
	for (size_t i = 0; i < f->n_deps; i++)
		collect_files(ix, f->deps[i], seen, out, n);
}

static const struct refl_symbol *find_message(const struct refl_index *ix, const char *name)
{
	const struct refl_symbol *sym = find_symbol(ix, name);

	return sym != NULL && sym->kind == KIND_MESSAGE ? sym : NULL;
}

/* What the request asks, for the log. */
static const char *request_kind(const refl_request *req, const char **arg)
{
	*arg = "";
	switch (req->message_request_case) {
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
		*arg = req->file_by_filename;
		return "file_by_filename";
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
		*arg = req->file_containing_symbol;
		return "file_containing_symbol";
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
		*arg = req->file_containing_extension->containing_type;
		return "file_containing_extension";
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
		*arg = req->all_extension_numbers_of_type;
		return "all_extension_numbers_of_type";
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
		return "list_services";
	default:
		return "none";
	}
}

/*
 * The ServerReflectionResponse to `req`, serialized into *out. Returns 0 or
 * -ENOMEM. A request naming nothing we know is not a failure: it is
 * answered with an error_response.
 */
static int answer(const struct refl_index *ix, refl_request *req, grpc_slice *out)
{
	refl_response resp = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
	Grpc__Reflection__V1__FileDescriptorResponse files =
		GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
	Grpc__Reflection__V1__ExtensionNumberResponse numbers =
		GRPC__REFLECTION__V1__EXTENSION_NUMBER_RESPONSE__INIT;
	Grpc__Reflection__V1__ListServiceResponse list =
		GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
	Grpc__Reflection__V1__ServiceResponse svc[N_SERVED];
	Grpc__Reflection__V1__ServiceResponse *svcp[N_SERVED];
	Grpc__Reflection__V1__ErrorResponse error = GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;
	const Grpc__Reflection__V1__ExtensionRequest *ext;
	const struct refl_symbol *sym;
	ProtobufCBinaryData *blobs = NULL;
	bool *seen = NULL;
	grpc_status_code code = GRPC_STATUS_OK;
	const char *msg = "";
	long file = -1;
	int rc = 0;

	resp.valid_host = req->host;
	resp.original_request = req;
	switch (req->message_request_case) {
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
		file = find_file(ix, req->file_by_filename);
		if (file < 0) {
			code = GRPC_STATUS_NOT_FOUND;
			msg = "File not found.";
		}
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
		sym = find_symbol(ix, req->file_containing_symbol);
		if (sym != NULL) {
			file = (long)sym->file;
		} else {
			code = GRPC_STATUS_NOT_FOUND;
			msg = "Symbol not found.";
		}
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
		ext = req->file_containing_extension;
		code = GRPC_STATUS_NOT_FOUND;
		if (find_message(ix, ext->containing_type) == NULL) {
			msg = "Type not found.";
			break;
		}
		msg = "Extension not found.";
		for (size_t i = 0; i < ix->n_exts; i++) {
			if (ix->exts[i].number == ext->extension_number &&
			    strcmp(ix->exts[i].extendee, ext->containing_type) == 0) {
				file = (long)ix->exts[i].file;
				code = GRPC_STATUS_OK;
				break;
			}
		}
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
		if (find_message(ix, req->all_extension_numbers_of_type) == NULL) {
			code = GRPC_STATUS_NOT_FOUND;
			msg = "Type not found.";
			break;
		}
		numbers.base_type_name = req->all_extension_numbers_of_type;
		for (size_t i = 0; i < ix->n_exts; i++) {
			if (strcmp(ix->exts[i].extendee, req->all_extension_numbers_of_type) != 0)
				continue;
			if (numbers.extension_number == NULL) {
				numbers.extension_number =
					calloc(ix->n_exts, sizeof(*numbers.extension_number));
				if (numbers.extension_number == NULL) {
					rc = -ENOMEM;
					goto out;
				}
			}
			numbers.extension_number[numbers.n_extension_number++] = ix->exts[i].number;
		}
		resp.message_response_case =
			GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
		resp.all_extension_numbers_response = &numbers;
		break;
	case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
		for (size_t i = 0; i < N_SERVED; i++) {
			grpc__reflection__v1__service_response__init(&svc[i]);
			svc[i].name = (char *)served_services[i];
			svcp[i] = &svc[i];
		}
		list.n_service = N_SERVED;
		list.service = svcp;
		resp.message_response_case =
			GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
		resp.list_services_response = &list;
		break;
	default:
		/* As the reference server: a request that asks nothing. */
		code = GRPC_STATUS_UNIMPLEMENTED;
		msg = "the request sets none of the message_request fields";
		break;
	}
	if (file >= 0) {
		blobs = calloc(ix->n_files, sizeof(*blobs));
		seen = calloc(ix->n_files, sizeof(*seen));
		if (blobs == NULL || seen == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		collect_files(ix, (size_t)file, seen, blobs, &files.n_file_descriptor_proto);
		files.file_descriptor_proto = blobs;
		resp.message_response_case =
			GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
		resp.file_descriptor_response = &files;
	}
	if (code != GRPC_STATUS_OK) {
		error.error_code = (int32_t)code;
		error.error_message = (char *)msg;
		resp.message_response_case =
			GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
		resp.error_response = &error;
	}
	*out = grpc_slice_malloc(grpc__reflection__v1__server_reflection_response__get_packed_size(&resp));
	grpc__reflection__v1__server_reflection_response__pack(&resp, GRPC_SLICE_START_PTR(*out));
out:
	free(numbers.extension_number);
	free(blobs);
	free(seen);
	return rc;
}

/* ---- a stream ---- */

/* Drops one reference; the caller holds r->lock, which this releases. */
static void stream_unref_unlock(struct refl_stream *s)
{
	struct rpc_reflection *r = s->r;
	bool last = --s->refs == 0;

	if (last) {
		if (s->prev != NULL)
			s->prev->next = s->next;
		else
			r->streams = s->next;
		if (s->next != NULL)
			s->next->prev = s->prev;
		r->n_streams--;
	}
	pthread_mutex_unlock(&r->lock);
	if (!last)
		return;
	if (rpc_deadline_disarm(&s->deadline) && s->end_reason == NULL)
		s->end_reason = "deadline_exceeded";
	log_debug("reflection_close", "id=%" PRIu64 " api=%s requests=%" PRIu64 " reason=%s",
		  s->id, api_names[s->api], s->requests,
		  s->end_reason != NULL ? s->end_reason : (s->cancelled ? "cancelled" : "ended"));
	if (s->recv_bb != NULL)
		grpc_byte_buffer_destroy(s->recv_bb);
	if (s->send_bb != NULL)
		grpc_byte_buffer_destroy(s->send_bb);
	grpc_call_unref(s->call);
	free(s);
}

/* A batch could not start: the call is unusable, so cancel it (its close
 * completion then tidies up) and start nothing more. Under r->lock. */
static void stream_broken(struct refl_stream *s, const char *op, grpc_call_error err)
{
	log_error("call_error", "op=%s id=%" PRIu64 " code=%d", op, s->id, (int)err);
	s->closed = true;
	s->end_reason = "internal_error";
	grpc_call_cancel(s->call, NULL);
}

/* Ends the stream with a status. Under r->lock; no send in flight. */
static void stream_finish(struct refl_stream *s, grpc_status_code code, const char *reason,
			  const char *msg)
{
	grpc_call_error err;

	s->finishing = true;
	s->end_reason = reason;
	s->refs++;
	err = rpc_call_status(s->call, code, msg, &s->t_status);
	if (err != GRPC_CALL_OK) {
		s->refs--;
		stream_broken(s, "reflection_status", err);
	}
}

static void stream_recv(struct refl_stream *s)
{
	grpc_call_error err;

	s->recv_pending = true;
	s->refs++;
	err = rpc_call_recv(s->call, &s->recv_bb, &s->t_recv);
	if (err != GRPC_CALL_OK) {
		s->recv_pending = false;
		s->refs--;
		stream_broken(s, "reflection_recv", err);
	}
}

/* Decodes one request and starts sending its answer. Under r->lock. */
static void stream_answer(struct refl_stream *s, grpc_byte_buffer *bb)
{
	refl_request *req = NULL;
	grpc_byte_buffer_reader reader;
	grpc_slice all, reply;
	const char *kind, *arg;
	char quoted[160];
	bool too_big = false;
	grpc_call_error err;

	if (grpc_byte_buffer_reader_init(&reader, bb)) {
		all = grpc_byte_buffer_reader_readall(&reader);
		grpc_byte_buffer_reader_destroy(&reader);
		if (GRPC_SLICE_LENGTH(all) <= REFL_REQUEST_BYTES_MAX)
			req = grpc__reflection__v1__server_reflection_request__unpack(
				NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
		else
			too_big = true;
		grpc_slice_unref(all);
	}
	if (req == NULL) {
		stream_finish(s, GRPC_STATUS_INVALID_ARGUMENT, "bad_request",
			      too_big ? "request: ServerReflectionRequest over 4096 bytes"
				      : "request: not a valid ServerReflectionRequest");
		return;
	}
	s->requests++;
	kind = request_kind(req, &arg);
	log_debug("reflection_request", "id=%" PRIu64 " kind=%s name=%s", s->id, kind,
		  log_quote(arg, quoted, sizeof(quoted)));
	if (answer(&s->r->index, req, &reply) < 0) {
		grpc__reflection__v1__server_reflection_request__free_unpacked(req, NULL);
		stream_finish(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "out_of_memory",
			      "server out of memory");
		return;
	}
	grpc__reflection__v1__server_reflection_request__free_unpacked(req, NULL);
	s->send_bb = grpc_raw_byte_buffer_create(&reply, 1);
	grpc_slice_unref(reply);
	s->send_pending = true;
	s->refs++;
	err = rpc_call_send(s->call, s->send_bb, 0, &s->t_send);
	if (err != GRPC_CALL_OK) {
		s->send_pending = false;
		s->refs--;
		grpc_byte_buffer_destroy(s->send_bb);
		s->send_bb = NULL;
		stream_broken(s, "reflection_send", err);
	}
}

static void on_open(struct rpc_reflection *r, const struct rpc_method *m, grpc_call *call,
		    gpr_timespec deadline)
{
	enum refl_api api = (enum refl_api)m->kind;
	struct refl_stream *s = calloc(1, sizeof(*s));
	grpc_call_error err;

	if (s == NULL) {
		rpc_finish_call(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	s->t_close.done = close_done;
	s->t_recv.done = recv_done;
	s->t_send.done = send_done;
	s->t_status.done = status_done;
	s->r = r;
	s->call = call;
	s->api = api;

	pthread_mutex_lock(&r->lock);
	if (r->shutting_down || r->n_streams >= REFL_STREAMS_MAX) {
		bool down = r->shutting_down;

		pthread_mutex_unlock(&r->lock);
		free(s);
		if (down)
			rpc_finish_call(call, GRPC_STATUS_UNAVAILABLE, "shutting down");
		else
			rpc_finish_call(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
					"too many reflection streams on this server");
		return;
	}
	s->id = ++r->next_id;
	s->next = r->streams;
	if (s->next != NULL)
		s->next->prev = s;
	r->streams = s;
	r->n_streams++;
	log_debug("reflection_open", "id=%" PRIu64 " api=%s", s->id, api_names[api]);
	s->refs = 1; /* this function, until it unlocks */
	rpc_deadline_arm(&s->deadline, m, call, deadline);
	err = rpc_call_open(call, NULL, 0, &s->cancelled, &s->t_close);
	if (err == GRPC_CALL_OK) {
		s->refs++;
		stream_recv(s);
	} else {
		stream_broken(s, "reflection_open", err);
	}
	stream_unref_unlock(s);
}

/* ---- completions ---- */

static void on_accept(struct rpc_method *m, grpc_call *call, grpc_byte_buffer *payload,
		      gpr_timespec deadline)
{
	(void)payload; /* bidirectional: requests are read one by one */
	on_open(m->ctx, m, call, deadline);
}

static void close_done(struct rpc_tag *tag, bool ok)
{
	struct refl_stream *s = RPC_OWNER(tag, struct refl_stream, t_close);

	(void)ok;
	pthread_mutex_lock(&s->r->lock);
	s->closed = true;
	stream_unref_unlock(s);
}

static void recv_done(struct rpc_tag *tag, bool ok)
{
	struct refl_stream *s = RPC_OWNER(tag, struct refl_stream, t_recv);
	grpc_byte_buffer *bb;

	pthread_mutex_lock(&s->r->lock);
	s->recv_pending = false;
	bb = s->recv_bb;
	s->recv_bb = NULL;
	if (!ok || s->closed || s->finishing) {
		/* The call is gone (its close completion follows) or already
		 * answered with a status. */
	} else if (bb == NULL) {
		stream_finish(s, GRPC_STATUS_OK, "half_close", "");
	} else if (s->r->shutting_down) {
		stream_finish(s, GRPC_STATUS_UNAVAILABLE, "shutdown", "shutting down");
	} else {
		stream_answer(s, bb);
	}
	if (bb != NULL)
		grpc_byte_buffer_destroy(bb);
	stream_unref_unlock(s);
}

static void send_done(struct rpc_tag *tag, bool ok)
{
	struct refl_stream *s = RPC_OWNER(tag, struct refl_stream, t_send);

	pthread_mutex_lock(&s->r->lock);
	s->send_pending = false;
	grpc_byte_buffer_destroy(s->send_bb);
	s->send_bb = NULL;
	if (!ok || s->closed || s->finishing)
		; /* the call is gone: its close completion follows */
	else if (s->r->shutting_down)
		stream_finish(s, GRPC_STATUS_UNAVAILABLE, "shutdown", "shutting down");
	else
		stream_recv(s);
	stream_unref_unlock(s);
}

static void status_done(struct rpc_tag *tag, bool ok)
{
	struct refl_stream *s = RPC_OWNER(tag, struct refl_stream, t_status);

	(void)ok;
	pthread_mutex_lock(&s->r->lock);
	stream_unref_unlock(s);
}

/* ---- lifecycle ---- */

struct rpc_reflection *rpc_reflection_create(const struct rpc_host *host)
{
	struct rpc_reflection *r = calloc(1, sizeof(*r));
	const struct refl_symbol *sym;
	int rc;

	if (r == NULL)
		return NULL;
	rc = index_build(&r->index, rpc_reflection_descriptor_set,
			 rpc_reflection_descriptor_set_len);
	if (rc < 0) {
		log_error("reflection_index", "reason=%s",
			  rc == -ENOMEM ? "out_of_memory" : "malformed_descriptor_set");
		goto fail_free;
	}
	/* The build decides what the set holds: refuse to start if it lacks a
	 * service we list, rather than answer list_services with a name that
	 * file_containing_symbol cannot resolve. */
	for (size_t i = 0; i < N_SERVED; i++) {
		sym = find_symbol(&r->index, served_services[i]);
		if (sym == NULL || sym->kind != KIND_SERVICE) {
			log_error("reflection_index", "missing_service=%s", served_services[i]);
			rc = -EINVAL;
			goto fail_index;
		}
	}
	rc = -pthread_mutex_init(&r->lock, NULL);
	if (rc < 0)
		goto fail_index;
	for (int a = 0; a < REFL_APIS; a++) {
		r->methods[a] = (struct rpc_method){
			.path = api_paths[a],
			.payload = false,
			.n_slots = REFL_ACCEPTS,
			.on_call = on_accept,
			.ctx = r,
			.kind = a,
		};
		rc = rpc_method_register(&r->methods[a], host);
		if (rc < 0)
			goto fail_mutex;
	}
	log_debug("reflection_index", "files=%zu symbols=%zu bytes=%zu", r->index.n_files,
		  r->index.n_symbols, rpc_reflection_descriptor_set_len);
	return r;

fail_mutex:
	for (int a = 0; a < REFL_APIS; a++)
		rpc_method_finish(&r->methods[a]);
	pthread_mutex_destroy(&r->lock);
fail_index:
	index_free(&r->index);
fail_free:
	free(r);
	errno = -rc;
	return NULL;
}

void rpc_reflection_start(struct rpc_reflection *r)
{
	for (int a = 0; a < REFL_APIS; a++)
		rpc_method_start(&r->methods[a]);
}

void rpc_reflection_shutdown(struct rpc_reflection *r)
{
	unsigned ended = 0;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	if (r->shutting_down) {
		pthread_mutex_unlock(&r->lock);
		return;
	}
	r->shutting_down = true;
	/* A stream with an answer in flight ends from that send's completion;
	 * the others (waiting for the client's next request) end now. */
	for (struct refl_stream *s = r->streams; s != NULL; s = s->next) {
		if (!s->closed && !s->finishing && !s->send_pending) {
			stream_finish(s, GRPC_STATUS_UNAVAILABLE, "shutdown", "shutting down");
			ended++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	if (ended > 0)
		log_debug("reflection_shutdown", "streams=%u", ended);
}

void rpc_reflection_destroy(struct rpc_reflection *r)
{
	if (r == NULL)
		return;
	/* Every call completed before the queue drained; a leftover stream
	 * would be a reference-count bug, worth a line in the log. */
	if (r->streams != NULL)
		log_error("reflection_leak", "streams=%u", r->n_streams);
	for (int a = 0; a < REFL_APIS; a++)
		rpc_method_finish(&r->methods[a]);
	pthread_mutex_destroy(&r->lock);
	index_free(&r->index);
	free(r);
}
