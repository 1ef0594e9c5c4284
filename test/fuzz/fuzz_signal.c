/*
 * Fuzz target: what the sigstream CLI does with a message from a server
 * (client/rpc.c decodes it with nanopb into static buffers sized by
 * signal.options; client/format.c prints each signal). The bytes are tried
 * as a Signal (StreamSignals) and as a SignalBatch (StreamSignalBatches),
 * and every decoded signal is formatted in every format: nothing may write
 * past its buffer, and no line may exceed FORMAT_LINE_MAX.
 */
#include <pb_decode.h>
#include <stdint.h>
#include <stdlib.h>

#include "client/format.h"
#include "signals/v1/signal.pb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void format_all(const signals_v1_Signal *sig)
{
	static const enum format_kind kinds[] = {FORMAT_TEXT, FORMAT_JSON, FORMAT_CSV};
	char line[FORMAT_LINE_MAX];

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		int n = format_signal(kinds[k], sig, line, sizeof(line));

		if (n < 0 || (size_t)n >= sizeof(line))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static signals_v1_SignalBatch batch; /* ~20 KB: not on the stack */
	signals_v1_Signal one = signals_v1_Signal_init_zero;
	pb_istream_t is = pb_istream_from_buffer(data, size);

	if (pb_decode(&is, signals_v1_Signal_fields, &one))
		format_all(&one);
	is = pb_istream_from_buffer(data, size);
	if (pb_decode(&is, signals_v1_SignalBatch_fields, &batch)) {
		if (batch.signals_count > sizeof(batch.signals) / sizeof(batch.signals[0]))
			abort();
		for (pb_size_t i = 0; i < batch.signals_count; i++)
			format_all(&batch.signals[i]);
	}
	return 0;
}
